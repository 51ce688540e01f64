# Dockerfile - builds bin/tocsin on Debian 12 and ships it in a slim runtime
# image. Used by docker-compose.yml (service "tocsin"); the configuration is
# mounted at /etc/tocsin/tocsin.yml (etc/tocsin.docker.yml is baked in as a
# default).

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        gcc make pkg-config \
        librdkafka-dev libjansson-dev libmaxminddb-dev liblmdb-dev \
        libyaml-dev libpcre2-dev zlib1g-dev libcurl4-openssl-dev libssl-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make bin/tocsin

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        librdkafka1 libjansson4 libmaxminddb0 liblmdb0 libyaml-0-2 libpcre2-8-0 zlib1g \
        libcurl4 libssl3 libmicrohttpd12 \
        ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/tocsin --shell /usr/sbin/nologin tocsin \
 && mkdir -p /var/lib/tocsin /etc/tocsin/rules \
 && chown tocsin:tocsin /var/lib/tocsin
COPY --from=build /src/bin/tocsin /usr/local/bin/tocsin
COPY etc/tocsin.docker.yml /etc/tocsin/tocsin.yml
USER tocsin
WORKDIR /var/lib/tocsin
VOLUME ["/var/lib/tocsin"]
ENTRYPOINT ["/usr/local/bin/tocsin"]
CMD ["run", "-c", "/etc/tocsin/tocsin.yml"]
