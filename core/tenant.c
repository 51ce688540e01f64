/* tenant.c - what a tenant (agency) id may be.
 *
 * A tenant id enters from the Kafka "tenant" header, the configuration and
 * the command line, and ends up in LMDB keys, incident records, file names
 * of reports and HTTP URLs: it is checked once where it enters, so that no
 * later stage can be made to fail by it. Pure function; any thread. */
#include "event.h"

static bool tenant_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == ':' || c == '@';
}

const char *ts_tenant_check(const char *s, size_t len)
{
    if (!s || len == 0)
        return "empty tenant";
    if (len > TS_TENANT_MAX)
        return "tenant longer than " TS_TENANT_MAX_STR " bytes";
    for (size_t i = 0; i < len; i++)
        if (!tenant_char((unsigned char)s[i]))
            return "tenant has a character other than A-Z a-z 0-9 . _ - : @";
    return NULL;
}
