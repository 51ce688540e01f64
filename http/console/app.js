/* app.js - Tocsin's analysts' console (docs/console.md).
 *
 * Plain ES2017 in one file, no framework, no third-party code, served by
 * the engine's own HTTP server (http/console.c) under a strict
 * Content-Security-Policy. It talks to the API v1 (docs/api.md) with the
 * bearer token the analyst signs in with; the token is kept in
 * sessionStorage (this tab only) and sent with every /api/ call.
 *
 * Safety: everything that comes from the server (incidents, raw log lines,
 * rule titles, report text, error messages) goes into the page as text:
 * the DOM is built with h()/svg() below, which set textContent and
 * attributes, never innerHTML; links are only "#/..." routes of this page.
 *
 * Views (hash routes): #/incidents?filters (the queue), #/incident/ID,
 * #/rules, #/health. All strings are in i18n.js (Vietnamese, English). */
'use strict';
(function () {
    const STR = window.TOCSIN_STRINGS || { en: {}, vi: {} };
    const LANGS = ['vi', 'en'];
    const TOKEN_KEY = 'tocsin.token';
    const LANG_KEY = 'tocsin.lang';
    const METRICS_EVERY_MS = 3000; /* the health panel's sampling period */
    const METRICS_KEEP = 120; /* samples kept: 6 minutes */
    const EVIDENCE_SHOWN = 300; /* timeline entries before "show all" */
    const PAGE_SIZES = [25, 50, 100, 200];

    /* The runtime's ingest series, by the names the console looks for
     * (first present wins; docs/console.md). */
    const SERIES = {
        events: ['tocsin_events_consumed_total', 'tocsin_events_read_total',
            'tocsin_events_total', 'tocsin_ingest_events_total'],
        dead: ['tocsin_events_dead_lettered_total', 'tocsin_dead_letters_total',
            'tocsin_events_dead_letter_total', 'tocsin_dead_lettered_total'],
        lag: ['tocsin_consumer_lag', 'tocsin_consumer_lag_messages', 'tocsin_kafka_consumer_lag',
            'tocsin_kafka_lag', 'tocsin_lag']
    };

    const state = {
        lang: pickLang(),
        token: sessionStorage.getItem(TOKEN_KEY),
        me: null,
        view: null,
        routeSeq: 0,
        queueHash: '#/incidents',
        prevCursor: new Map(), /* queue: cursor of a page -> cursor of the page before */
        comment: '',
        flash: null,
        reportLang: null,
        reportStage: 'initial',
        reportCache: new Map(),
        samples: [],
        metricsTimer: null,
        bootTimer: null,
        metricsError: null,
        rulesIndex: null,
        showAllEvidence: false,
        loginMessage: null
    };

    /* ---------------------------------------------------------- strings */

    function pickLang() {
        const saved = localStorage.getItem(LANG_KEY);
        if (LANGS.includes(saved))
            return saved;
        const nav = (navigator.languages && navigator.languages[0]) || navigator.language || '';
        return nav.toLowerCase().startsWith('vi') ? 'vi' : 'en';
    }

    function t(key, ...args) {
        let s = STR[state.lang] && STR[state.lang][key];
        if (s === undefined)
            s = STR.en[key];
        if (s === undefined)
            return key;
        return s.replace(/\{(\d+)\}/g, (m, i) => (args[i] === undefined ? m : String(args[i])));
    }

    function locale() {
        return state.lang === 'vi' ? 'vi-VN' : 'en-GB';
    }

    /* -------------------------------------------------------------- DOM */

    const SVGNS = 'http://www.w3.org/2000/svg';

    function setAttrs(el, attrs) {
        for (const [k, v] of Object.entries(attrs || {})) {
            if (v === null || v === undefined || v === false || k === 'value')
                continue;
            if (k === 'style' || k === 'innerHTML')
                throw new Error('h(): ' + k + ' is not allowed');
            if (k === 'text')
                el.textContent = String(v);
            else if (k.startsWith('on')) {
                if (typeof v !== 'function')
                    throw new Error('h(): ' + k + ' must be a function');
                el.addEventListener(k.slice(2), v);
            } else if (k === 'href' && !/^#/.test(String(v)))
                throw new Error('h(): only #/ links');
            else
                el.setAttribute(k, v === true ? '' : String(v));
        }
    }

    function append(el, kids) {
        for (const k of kids.flat(Infinity)) {
            if (k === null || k === undefined || k === false)
                continue;
            el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
        }
    }

    /* An element with attributes and children (nodes or text). */
    function h(tag, attrs, ...kids) {
        const el = document.createElement(tag);
        setAttrs(el, attrs);
        append(el, kids);
        if (attrs && attrs.value !== undefined)
            el.value = attrs.value;
        return el;
    }

    function svg(tag, attrs, ...kids) {
        const el = document.createElementNS(SVGNS, tag);
        setAttrs(el, attrs);
        append(el, kids);
        return el;
    }

    function $(id) {
        return document.getElementById(id);
    }

    /* -------------------------------------------------------------- API */

    class ApiError extends Error {
        constructor(status, message) {
            super(message);
            this.status = status;
        }
    }

    async function api(path, opts) {
        opts = opts || {};
        const headers = { Accept: opts.accept || 'application/json' };
        headers.Authorization = 'Bearer ' + state.token;
        let body;
        if (opts.body !== undefined) {
            headers['Content-Type'] = 'application/json';
            body = JSON.stringify(opts.body);
        }
        let r;
        try {
            r = await fetch(path, {
                method: opts.method || 'GET', headers, body, cache: 'no-store',
                credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer'
            });
        } catch (e) {
            throw new ApiError(0, t('err.network'));
        }
        const text = await r.text();
        let data = text;
        if ((r.headers.get('Content-Type') || '').startsWith('application/json')) {
            try {
                data = JSON.parse(text);
            } catch (e) {
                data = null;
            }
        }
        if (r.status === 401 && !opts.signingIn) {
            signOut(t('login.expired'));
            throw new ApiError(401, t('login.expired'));
        }
        if (!r.ok) {
            const msg = (data && typeof data === 'object' && data.error) || String(text).trim();
            throw new ApiError(r.status, msg || 'HTTP ' + r.status);
        }
        return data;
    }

    function enc(s) {
        return encodeURIComponent(s);
    }

    /* ------------------------------------------------------------ times */

    function parseTime(iso) {
        if (!iso)
            return null;
        const d = new Date(String(iso).replace(/(\.\d{3})\d+/, '$1'));
        return isNaN(d.getTime()) ? null : d;
    }

    function fmtTime(iso) {
        const d = parseTime(iso);
        if (!d)
            return iso ? String(iso) : '—';
        return d.toLocaleString(locale(), {
            year: 'numeric', month: '2-digit', day: '2-digit',
            hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false
        });
    }

    function fmtRel(iso) {
        const d = parseTime(iso);
        if (!d)
            return '';
        const sec = Math.round((d.getTime() - Date.now()) / 1000);
        const a = Math.abs(sec);
        const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
        if (a < 60)
            return rtf.format(sec, 'second');
        if (a < 3600)
            return rtf.format(Math.round(sec / 60), 'minute');
        if (a < 172800)
            return rtf.format(Math.round(sec / 3600), 'hour');
        return rtf.format(Math.round(sec / 86400), 'day');
    }

    function timeEl(iso, withRel) {
        return h('time', { datetime: iso || '', title: iso || '' }, fmtTime(iso),
            withRel && iso ? h('span', { class: 'rel' }, ' · ', fmtRel(iso)) : null);
    }

    function fmtNum(v, digits) {
        if (v === null || v === undefined || isNaN(v))
            return '—';
        return Number(v).toLocaleString(locale(), { maximumFractionDigits: digits === undefined ? 0 : digits });
    }

    function fmtBytes(v) {
        const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        let i = 0;
        while (v >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return fmtNum(v, i ? 1 : 0) + ' ' + units[i];
    }

    /* ------------------------------------------------------ small parts */

    const SEVERITIES = ['critical', 'high', 'medium', 'low', 'informational'];
    const STATUSES = ['new', 'acknowledged', 'resolved', 'reopened'];

    function sevPill(sev) {
        return h('span', { class: 'pill sev sev-' + sev, 'data-severity': sev }, t('sev.' + sev));
    }

    function statusPill(st) {
        return h('span', { class: 'pill st st-' + st, 'data-status': st }, t('status.' + st));
    }

    function card(title, attrs, ...kids) {
        return h('section', Object.assign({ class: 'card' }, attrs || {}),
            title ? h('h2', { class: 'card-title' }, title) : null, kids);
    }

    function notice(kind, ...kids) {
        return h('div', { class: 'notice notice-' + kind, role: kind === 'error' ? 'alert' : 'status' }, kids);
    }

    function errorNotice(e) {
        const msg = e && e.message ? e.message : String(e);
        const status = e && e.status ? ' (' + e.status + ')' : '';
        return notice('error', msg + status);
    }

    function kv(rows) {
        return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) =>
            [h('dt', null, k), h('dd', null, v === '' || v === null || v === undefined ? '—' : v)]));
    }

    /* The string for key, or fallback when the table has none. */
    function tOr(key, fallback) {
        const s = t(key);
        return s === key ? fallback : s;
    }

    function recipientName(id) {
        return tOr('recipient.' + id, id);
    }

    /* Group key "a=1,b=2" into [[a, 1], [b, 2]] (a value may hold commas). */
    function groupPairs(key) {
        if (!key)
            return [];
        return String(key).split(/,(?=[A-Za-z0-9_.@:-]+=)/).map((p) => {
            const i = p.indexOf('=');
            return i < 0 ? ['', p] : [p.slice(0, i), p.slice(i + 1)];
        });
    }

    /* ------------------------------------------------------------ shell */

    function navigate(hash) {
        if (location.hash === hash)
            route();
        else
            location.hash = hash;
    }

    function setBodyState(st, view) {
        document.body.setAttribute('data-state', st);
        if (view)
            document.body.setAttribute('data-view', view);
    }

    function langSwitch(id) {
        return h('div', { class: 'seg', role: 'group', 'aria-label': t('lang.label'), id },
            LANGS.map((l) => h('button', {
                type: 'button', id: id + '-' + l, class: state.lang === l ? 'on' : '',
                'aria-pressed': state.lang === l ? 'true' : 'false', lang: l,
                title: t('lang.name.' + l), onclick: () => setLang(l)
            }, l.toUpperCase())));
    }

    function header() {
        const v = state.view ? state.view.name : '';
        const link = (href, key, names) => h('a', {
            href, class: names.includes(v) ? 'active' : '', id: 'nav-' + key
        }, t('nav.' + key));
        const me = state.me;
        const tenants = me.tenants.includes('*') ? t('me.all_tenants') : me.tenants.join(', ');
        return h('header', { class: 'topbar' },
            h('a', { class: 'brand', href: '#/incidents' }, logo(), h('span', null, 'Tocsin'),
                h('span', { class: 'brand-sub' }, t('app.sub'))),
            h('nav', { class: 'nav' },
                link(state.queueHash, 'incidents', ['queue', 'incident']),
                link('#/rules', 'rules', ['rules']),
                link('#/health', 'health', ['health'])),
            h('div', { class: 'spacer' }),
            h('div', { class: 'who', id: 'who' },
                h('span', { class: 'who-name' }, me.name),
                h('span', { class: 'role role-' + me.role, id: 'who-role' }, t('role.' + me.role)),
                h('span', { class: 'who-tenants', title: t('me.tenants') }, tenants)),
            langSwitch('lang'),
            h('button', { type: 'button', class: 'btn ghost', id: 'logout', onclick: () => signOut() },
                t('nav.signout')));
    }

    function logo() {
        return svg('svg', { viewBox: '0 0 32 32', width: 26, height: 26, 'aria-hidden': 'true', class: 'logo' },
            svg('rect', { width: 32, height: 32, rx: 7, fill: '#1e293b' }),
            svg('path', { d: 'M16 6c-4 0-7 3-7 7v5l-2 4h18l-2-4v-5c0-4-3-7-7-7z', fill: '#f59e0b' }),
            svg('circle', { cx: 16, cy: 25, r: 2.5, fill: '#f59e0b' }));
    }

    function renderShell() {
        document.documentElement.lang = state.lang;
        document.title = state.view ? t('title.' + state.view.name) + ' · Tocsin' : 'Tocsin';
        $('app').replaceChildren(header(), h('main', { id: 'main', class: 'main' },
            h('p', { class: 'loading' }, t('loading'))));
    }

    function renderMain() {
        const v = state.view;
        const main = $('main');
        if (!v || !main)
            return;
        let node;
        try {
            node = v.error ? h('div', { class: 'page' }, errorNotice(v.error)) : v.render(v.data);
        } catch (e) {
            node = h('div', { class: 'page' }, errorNotice(e));
        }
        main.replaceChildren(node);
        setBodyState('ready', v.name);
        if (v.after && !v.error)
            v.after();
    }

    function setLang(l) {
        if (!LANGS.includes(l) || l === state.lang)
            return;
        state.lang = l;
        localStorage.setItem(LANG_KEY, l);
        if (!state.me) {
            renderLogin();
            return;
        }
        renderShell();
        renderMain();
    }

    /* ------------------------------------------------------------ login */

    function renderLogin() {
        stopMetrics();
        document.documentElement.lang = state.lang;
        document.title = t('login.title') + ' · Tocsin';
        const err = h('p', { class: 'login-error', id: 'login-error', role: 'alert' },
            state.loginMessage || '');
        const input = h('input', {
            id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
            required: true, placeholder: t('login.placeholder'), 'aria-describedby': 'login-help'
        });
        const btn = h('button', { type: 'submit', class: 'btn primary wide', id: 'login-btn' }, t('login.submit'));
        const form = h('form', {
            class: 'login-card', id: 'login-form', onsubmit: async (ev) => {
                ev.preventDefault();
                const tok = input.value.trim();
                if (!tok)
                    return;
                btn.disabled = true;
                err.textContent = '';
                state.token = tok;
                try {
                    state.me = await api('/api/v1/me', { signingIn: true });
                    sessionStorage.setItem(TOKEN_KEY, tok);
                    state.loginMessage = null;
                    if (!location.hash || location.hash === '#' || location.hash === '#/')
                        location.replace('#/incidents'); /* hashchange routes */
                    else
                        route();
                } catch (e) {
                    state.token = null;
                    err.textContent = e.status === 401 ? t('login.bad') : e.message;
                    btn.disabled = false;
                    input.select();
                }
            }
        },
        h('div', { class: 'login-brand' }, logo(), h('span', null, 'Tocsin')),
        h('h1', null, t('login.title')),
        h('p', { class: 'muted', id: 'login-help' }, t('login.help')),
        h('label', { for: 'token' }, t('login.token')),
        input, err, btn,
        h('p', { class: 'small muted' }, t('login.storage')),
        h('div', { class: 'login-foot' }, langSwitch('login-lang')));
        $('app').replaceChildren(h('div', { class: 'login' }, form));
        setBodyState('ready', 'login');
        input.focus();
    }

    function signOut(message) {
        sessionStorage.removeItem(TOKEN_KEY);
        state.token = null;
        state.me = null;
        state.view = null;
        state.reportCache.clear();
        state.rulesIndex = null;
        state.loginMessage = message || null;
        renderLogin();
    }

    /* ----------------------------------------------------------- router */

    function parseHash() {
        const raw = location.hash.replace(/^#\/?/, '');
        const qi = raw.indexOf('?');
        const path = qi < 0 ? raw : raw.slice(0, qi);
        const params = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
        let parts;
        try {
            parts = path.split('/').filter(Boolean).map(decodeURIComponent);
        } catch (e) {
            parts = [];
        }
        return { parts, params };
    }

    async function route() {
        stopMetrics();
        if (!state.token) {
            renderLogin();
            return;
        }
        const seq = ++state.routeSeq;
        if (!state.me) {
            setBodyState('loading');
            try {
                state.me = await api('/api/v1/me');
            } catch (e) {
                if (e.status !== 401) {
                    state.loginMessage = e.message;
                    signOut(e.message);
                }
                return;
            }
            if (seq !== state.routeSeq)
                return;
        }
        const { parts, params } = parseHash();
        const name = parts[0] || 'incidents';
        let view;
        if (name === 'incidents')
            view = queueView(params);
        else if (name === 'incident' && parts[1])
            view = incidentView(parts[1]);
        else if (name === 'rules')
            view = rulesView();
        else if (name === 'health')
            view = healthView();
        else {
            location.replace('#/incidents');
            return;
        }
        state.view = view;
        setBodyState('loading', view.name);
        renderShell();
        try {
            view.data = await view.load();
        } catch (e) {
            view.error = e;
        }
        if (seq !== state.routeSeq || state.view !== view)
            return;
        renderMain();
    }

    /* ------------------------------------------------------------ queue */

    const FILTERS = ['status', 'severity', 'tenant', 'since', 'rule', 'text', 'sort', 'limit'];
    const SORTS = ['oldest', 'newest', 'severity']; /* the API's ?sort=, oldest its default */

    function readFilters(params) {
        const f = {};
        for (const k of FILTERS)
            f[k] = params.get(k) || '';
        f.cursor = params.get('cursor') || '';
        if (!f.status)
            f.status = 'open';
        if (!PAGE_SIZES.includes(Number(f.limit)))
            f.limit = '50';
        if (!SORTS.includes(f.sort))
            f.sort = 'oldest';
        return f;
    }

    function filterHash(f, cursor) {
        const q = new URLSearchParams();
        for (const k of FILTERS)
            if (f[k] && !(k === 'status' && f[k] === 'open') && !(k === 'limit' && f[k] === '50') &&
                !(k === 'sort' && f[k] === 'oldest'))
                q.set(k, f[k]);
        if (cursor)
            q.set('cursor', cursor);
        const s = q.toString();
        return '#/incidents' + (s ? '?' + s : '');
    }

    function queueView(params) {
        const f = readFilters(params);
        return {
            name: 'queue',
            async load() {
                const q = new URLSearchParams();
                if (f.status !== 'all')
                    q.set('status', f.status);
                for (const k of ['severity', 'tenant', 'since', 'rule', 'text'])
                    if (f[k])
                        q.set(k, f[k]);
                if (f.sort !== 'oldest')
                    q.set('sort', f.sort);
                q.set('limit', f.limit);
                if (f.cursor)
                    q.set('cursor', f.cursor);
                state.queueHash = filterHash(f, f.cursor);
                return api('/api/v1/incidents?' + q.toString());
            },
            render(d) {
                return renderQueue(f, d);
            }
        };
    }

    function select(id, value, options, label) {
        return h('label', { class: 'field', for: id }, h('span', null, label),
            h('select', { id, name: id, value }, options.map(([v, text]) => h('option', { value: v }, text))));
    }

    function textField(id, value, label, placeholder, attrs) {
        return h('label', { class: 'field', for: id }, h('span', null, label),
            h('input', Object.assign({ id, name: id, type: 'text', value, placeholder, spellcheck: 'false' }, attrs || {})));
    }

    function renderQueue(f, d) {
        const me = state.me;
        let tenantField;
        if (me.tenants.includes('*'))
            tenantField = textField('f-tenant', f.tenant, t('f.tenant'), t('f.tenant.any'));
        else
            tenantField = select('f-tenant', f.tenant, [['', me.tenants.length > 1 ? t('f.tenant.mine') : me.tenants[0]]]
                .concat(me.tenants.length > 1 ? me.tenants.map((x) => [x, x]) : []), t('f.tenant'));
        const rules = new Set((d.incidents || []).map((i) => i.rule_title).filter(Boolean));
        const form = h('form', {
            class: 'filters', id: 'filters', onsubmit: (ev) => {
                ev.preventDefault();
                const nf = {
                    status: $('f-status').value, severity: $('f-severity').value,
                    tenant: $('f-tenant').value.trim(), since: $('f-since').value,
                    rule: $('f-rule').value.trim(), text: $('f-text').value.trim(), sort: $('f-sort').value,
                    limit: $('f-limit').value
                };
                navigate(filterHash(nf, ''));
            }
        },
        select('f-status', f.status, [['open', t('f.status.open')], ['new', t('status.new')],
            ['acknowledged', t('status.acknowledged')], ['reopened', t('status.reopened')],
            ['resolved', t('status.resolved')], ['all', t('f.any')]], t('f.status')),
        select('f-severity', f.severity, [['', t('f.any')], ['critical', t('sev.critical')],
            ['high,critical', t('f.sev.high_up')], ['medium,high,critical', t('f.sev.medium_up')],
            ['high', t('sev.high')], ['medium', t('sev.medium')], ['low', t('sev.low')],
            ['informational', t('sev.informational')]], t('f.severity')),
        tenantField,
        select('f-since', f.since, [['', t('f.any')], ['1h', t('f.since.1h')], ['24h', t('f.since.24h')],
            ['7d', t('f.since.7d')], ['30d', t('f.since.30d')], ['90d', t('f.since.90d')]]
            .concat(['', '1h', '24h', '7d', '30d', '90d'].includes(f.since) ? [] : [[f.since, f.since]]), t('f.since')),
        textField('f-rule', f.rule, t('f.rule'), t('f.rule.ph'), { list: 'rule-titles' }),
        h('datalist', { id: 'rule-titles' }, [...rules].map((r) => h('option', { value: r }))),
        textField('f-text', f.text, t('f.text'), t('f.text.ph'), { type: 'search', class: 'grow' }),
        select('f-sort', f.sort, SORTS.map((x) => [x, t('sort.' + x)]), t('f.sort')),
        select('f-limit', f.limit, PAGE_SIZES.map((n) => [String(n), String(n)]), t('f.limit')),
        h('div', { class: 'field-buttons' },
            h('button', { type: 'submit', class: 'btn primary', id: 'f-apply' }, t('f.apply')),
            h('button', { type: 'button', class: 'btn', id: 'f-reset', onclick: () => navigate('#/incidents') }, t('f.reset'))));

        const list = d.incidents || [];
        const cur = f.cursor || '';
        if (d.next)
            state.prevCursor.set(d.next, cur);
        let page = 1;
        for (let c = cur; c && state.prevCursor.has(c) && page < 10000; c = state.prevCursor.get(c))
            page++;
        const rows = list.map((i) => h('tr', {
            class: 'row sev-row-' + i.severity, 'data-id': i.id, tabindex: '-1',
            onclick: (ev) => {
                if (!(ev.target instanceof HTMLAnchorElement))
                    navigate('#/incident/' + enc(i.id));
            }
        },
        h('td', null, sevPill(i.severity)),
        h('td', null, statusPill(i.status)),
        h('td', { class: 'title-cell' },
            h('a', { href: '#/incident/' + enc(i.id), class: 'inc-link' }, i.rule_title || i.rule_id),
            h('div', { class: 'sub mono' }, i.id)),
        h('td', { class: 'mono entity' }, groupPairs(i.group_key).map(([k, v]) =>
            h('span', { class: 'kvchip' }, k ? h('span', { class: 'k' }, k) : null, h('span', { class: 'v' }, v)))),
        h('td', { class: 'tenant' }, i.tenant || t('q.no_tenant')),
        h('td', { class: 'num' }, fmtNum(i.count)),
        h('td', { class: 'time' }, timeEl(i.last_seen)),
        h('td', { class: 'who-cell' }, i.status_by || '')));

        const table = list.length ? h('table', { class: 'grid', id: 'queue' },
            h('thead', null, h('tr', null,
                ['q.severity', 'q.status', 'q.incident', 'q.entity', 'q.tenant', 'q.count', 'q.last_seen', 'q.by']
                    .map((k) => h('th', { class: k === 'q.count' ? 'num' : '' }, t(k))))),
            h('tbody', null, rows))
            : h('div', { class: 'empty', id: 'queue-empty' }, t('q.empty'));

        const pager = h('div', { class: 'pager' },
            h('span', { class: 'muted', id: 'queue-summary' }, t('q.summary', list.length, page)),
            h('span', { class: 'spacer' }),
            h('button', {
                type: 'button', class: 'btn', id: 'q-first', disabled: !cur,
                onclick: () => navigate(filterHash(f, ''))
            }, t('q.first')),
            h('button', {
                type: 'button', class: 'btn', id: 'q-prev', disabled: !cur || !state.prevCursor.has(cur),
                onclick: () => navigate(filterHash(f, state.prevCursor.get(cur)))
            }, '← ', t('q.prev')),
            h('button', {
                type: 'button', class: 'btn', id: 'q-next', disabled: !d.next,
                onclick: () => navigate(filterHash(f, d.next))
            }, t('q.next'), ' →'));

        return h('div', { class: 'page' },
            h('div', { class: 'page-head' },
                h('h1', null, t('q.title')),
                h('span', { class: 'muted' }, t('q.order')),
                h('span', { class: 'spacer' }),
                h('button', { type: 'button', class: 'btn', id: 'q-refresh', onclick: () => route() }, t('q.refresh'))),
            card(null, { class: 'card filters-card' }, form),
            card(null, { class: 'card table-card' }, table, pager));
    }

    /* --------------------------------------------------------- incident */

    async function rulesIndex() {
        if (state.rulesIndex)
            return state.rulesIndex;
        const m = new Map();
        try {
            const d = await api('/api/v1/rules');
            for (const r of normRules(d))
                if (r.id)
                    m.set(r.id, r.title || r.id);
        } catch (e) {
            /* no rules hook (tocsin serve): ids stay ids */
        }
        state.rulesIndex = m;
        return m;
    }

    function incidentView(id) {
        state.showAllEvidence = false;
        state.flash = null;
        state.comment = '';
        const view = {
            name: 'incident',
            async load() {
                const [inc, esc, rules] = await Promise.all([
                    api('/api/v1/incidents/' + enc(id)),
                    api('/api/v1/incidents/' + enc(id) + '/escalations').catch((e) => ({ error: e })),
                    rulesIndex()]);
                return { inc, esc, rules };
            },
            render(d) {
                return renderIncident(view, d);
            },
            after() {
                loadReport(view);
            }
        };
        return view;
    }

    function canDo(verb, status) {
        if (verb === 'ack')
            return status === 'new' || status === 'reopened';
        if (verb === 'resolve')
            return status !== 'resolved';
        return status === 'resolved';
    }

    async function act(view, verb) {
        const inc = view.data.inc;
        const comment = state.comment.trim();
        const buttons = document.querySelectorAll('.actions button');
        buttons.forEach((b) => { b.disabled = true; });
        try {
            const upd = await api('/api/v1/incidents/' + enc(inc.id) + '/' + verb, {
                method: 'POST', body: comment ? { comment } : undefined
            });
            view.data.inc = Object.assign({}, inc, upd, { evidence_records: inc.evidence_records });
            state.comment = '';
            state.flash = { kind: 'ok', text: t('act.done.' + verb, upd.status_by || state.me.name) };
            state.reportCache.clear();
        } catch (e) {
            state.flash = { kind: 'error', text: t('act.failed', e.message) };
        }
        renderMain();
    }

    async function retry(view, entryId) {
        try {
            await api('/api/v1/escalations/' + enc(entryId) + '/retry', { method: 'POST' });
            view.data.esc = await api('/api/v1/incidents/' + enc(view.data.inc.id) + '/escalations');
            state.flash = { kind: 'ok', text: t('esc.retried', entryId) };
        } catch (e) {
            state.flash = { kind: 'error', text: t('act.failed', e.message) };
        }
        renderMain();
    }

    function renderIncident(view, d) {
        const inc = d.inc;
        const role = state.me.role;
        const analyst = role === 'analyst' || role === 'admin';
        const verbs = ['ack', 'resolve', 'reopen'].filter((v) => canDo(v, inc.status));

        const head = h('div', { class: 'inc-head' },
            h('a', { href: state.queueHash, class: 'back', id: 'back' }, '← ', t('inc.back')),
            h('div', { class: 'inc-title-row' },
                sevPill(inc.severity),
                h('h1', { id: 'inc-title' }, inc.rule_title || inc.rule_id),
                statusPill(inc.status)),
            h('div', { class: 'inc-sub' },
                h('span', { class: 'mono', id: 'inc-id' }, inc.id),
                h('span', null, t('inc.tenant'), ': ', h('b', null, inc.tenant || t('q.no_tenant'))),
                h('span', null, t('inc.events_n', fmtNum(inc.count))),
                h('span', null, t('inc.seen'), ' ', timeEl(inc.first_seen), ' → ', timeEl(inc.last_seen)),
                inc.status_by ? h('span', { id: 'inc-status-by' }, t('inc.status_by', t('status.' + inc.status), inc.status_by),
                    ' ', timeEl(inc.status_at, true)) : null));

        let actions;
        if (analyst) {
            const ta = h('textarea', {
                id: 'comment', rows: 2, maxlength: 4096, placeholder: t('act.comment.ph'),
                oninput: (ev) => { state.comment = ev.target.value; }
            });
            ta.value = state.comment;
            actions = card(t('act.title'), { class: 'card actions', id: 'actions' },
                h('label', { for: 'comment', class: 'sr' }, t('act.comment')), ta,
                h('div', { class: 'act-row' },
                    verbs.map((v) => h('button', {
                        type: 'button', id: 'btn-' + v, class: 'btn ' + (v === 'reopen' ? '' : 'primary'),
                        onclick: () => act(view, v)
                    }, t('act.' + v))),
                    h('span', { class: 'muted small' }, t('act.note'))));
        } else {
            actions = notice('info', t('act.readonly', t('role.' + role)));
        }

        const flash = state.flash ? notice(state.flash.kind === 'ok' ? 'ok' : 'error', state.flash.text) : null;
        if (flash)
            flash.id = 'flash';

        return h('div', { class: 'page incident' },
            head, flash, actions,
            h('div', { class: 'cols' },
                h('div', { class: 'col-main' }, evidenceCard(inc, d.rules), escalationsCard(view, d.esc)),
                h('div', { class: 'col-side' }, summaryCard(inc), entitiesCard(inc, d.rules), historyCard(inc))),
            reportCard(view));
    }

    function summaryCard(inc) {
        const det = inc.details && typeof inc.details === 'object' ? inc.details : {};
        return card(t('inc.summary'), { id: 'summary' }, kv([
            [t('inc.rule'), inc.rule_title],
            [t('inc.rule_id'), h('span', { class: 'mono' }, inc.rule_id)],
            [t('inc.level'), inc.level],
            det.type ? [t('inc.kind'), det.type] : null,
            [t('inc.author'), inc.author],
            [t('inc.tags'), (inc.tags || []).length ? h('span', { class: 'chips' }, inc.tags.map((x) => h('span', { class: 'chip' }, x))) : ''],
            [t('inc.first_seen'), timeEl(inc.first_seen)],
            [t('inc.last_seen'), timeEl(inc.last_seen)],
            [t('inc.count'), fmtNum(inc.count)],
            [t('inc.evidence'), t('inc.evidence_kept', fmtNum(inc.evidence), fmtNum(inc.evidence_dropped))],
            [t('inc.created'), timeEl(inc.created)],
            [t('inc.updated'), timeEl(inc.updated)],
            [t('inc.revision'), String(inc.revision)]
        ]));
    }

    function entitiesCard(inc, rules) {
        const pairs = groupPairs(inc.group_key);
        const linked = new Map();
        for (const ev of inc.evidence_records || [])
            if (ev.rule_id && ev.rule_id !== inc.rule_id)
                linked.set(ev.rule_id, (linked.get(ev.rule_id) || 0) + 1);
        const det = inc.details && typeof inc.details === 'object' ? inc.details : {};
        return card(t('inc.entities'), { id: 'entities' },
            pairs.length ? h('table', { class: 'mini' },
                h('tbody', null, pairs.map(([k, v]) => h('tr', null,
                    h('th', null, k || t('inc.group')),
                    h('td', { class: 'mono' }, v),
                    h('td', { class: 'right' }, h('a', {
                        href: '#/incidents?' + new URLSearchParams({ status: 'all', text: v }).toString(),
                        class: 'small', title: t('inc.pivot.title')
                    }, t('inc.pivot')))))))
                : h('p', { class: 'muted' }, t('inc.no_group')),
            inc.distinct_field ? h('div', { class: 'distinct' },
                h('h3', null, t('inc.distinct', inc.distinct_field)),
                h('div', { class: 'chips' }, (inc.distinct || []).map((x) => h('span', { class: 'chip mono' }, x))),
                inc.distinct_truncated ? h('p', { class: 'muted small' }, t('inc.distinct_trunc')) : null) : null,
            h('div', { class: 'linked', id: 'linked' },
                h('h3', null, t('inc.linked', fmtNum(det.linked !== undefined ? det.linked : linked.size))),
                linked.size ? h('ul', { class: 'plain' }, [...linked].map(([rid, n]) => h('li', null,
                    rules.has(rid) ? h('span', null, rules.get(rid)) : h('span', { class: 'mono small' }, rid),
                    ' ', h('span', { class: 'muted small' }, t('inc.linked_n', n)),
                    rules.has(rid) ? h('div', { class: 'mono small muted' }, rid) : null)))
                    : h('p', { class: 'muted small' }, t('inc.linked_none'))));
    }

    function historyCard(inc) {
        const hist = inc.history || [];
        return card(t('inc.history'), { id: 'history' },
            hist.length ? h('ol', { class: 'hist' }, hist.slice().reverse().map((x) => h('li', null,
                x.from ? statusPill(x.from) : null, x.from ? h('span', { class: 'muted', 'aria-label': t('inc.history_to') }, ' → ') : null,
                statusPill(x.status), ' ', h('b', null, x.by || '—'), h('div', { class: 'small muted' }, timeEl(x.at, true)),
                x.comment ? h('p', { class: 'hist-comment' }, x.comment) : null)))
                : h('p', { class: 'muted' }, t('inc.history_none')));
    }

    function evSource(ev) {
        if (ev.partition >= 0)
            return t('ev.kafka', ev.source, ev.partition, ev.offset);
        return ev.source + ':' + ev.offset;
    }

    function evidenceCard(inc, rules) {
        const all = inc.evidence_records || [];
        const shown = state.showAllEvidence ? all : all.slice(0, EVIDENCE_SHOWN);
        const items = shown.map((ev) => {
            const linked = ev.rule_id && ev.rule_id !== inc.rule_id;
            return h('li', { class: 'tl-item' + (linked ? ' tl-linked' : '') + (ev.raw === undefined ? ' tl-noraw' : '') },
                h('div', { class: 'tl-meta' },
                    h('span', { class: 'tl-seq mono' }, '#' + ev.seq),
                    timeEl(ev.event_time),
                    h('span', { class: 'tl-src mono', title: t('ev.source') }, evSource(ev)),
                    linked ? h('span', { class: 'chip chip-linked', title: ev.rule_id }, t('ev.linked', rules.get(ev.rule_id) || ev.rule_id)) : null,
                    ev.raw_truncated ? h('span', { class: 'chip chip-warn' }, t('ev.truncated')) : null),
                ev.raw !== undefined ? h('pre', { class: 'raw' }, ev.raw)
                    : h('p', { class: 'raw-none' }, t(ev.raw_omitted ? 'ev.omitted' : 'ev.not_kept')));
        });
        const withRaw = all.filter((e) => e.raw !== undefined).length;
        return card(t('ev.title'), { id: 'evidence-card' },
            h('p', { class: 'muted small' }, t('ev.summary', fmtNum(all.length), fmtNum(withRaw), fmtNum(inc.evidence_dropped))),
            all.length ? h('ol', { class: 'timeline', id: 'evidence' }, items) : h('p', { class: 'muted' }, t('ev.none')),
            all.length > shown.length ? h('button', {
                type: 'button', class: 'btn', onclick: () => { state.showAllEvidence = true; renderMain(); }
            }, t('ev.show_all', fmtNum(all.length))) : null);
    }

    function escalationsCard(view, esc) {
        const body = [];
        if (esc && esc.error) {
            body.push(errorNotice(esc.error));
        } else if (!esc || esc.regime === undefined) {
            body.push(h('p', { class: 'muted' }, t('esc.off')));
        } else {
            body.push(h('p', { class: 'esc-head' },
                t('esc.regime'), ': ', h('b', { class: 'mono' }, esc.regime), ' · ',
                t('esc.serious'), ': ', h('b', null, esc.serious ? t('yes') : t('no'))));
            const reports = esc.reports || [];
            if (reports.length) {
                const byRec = new Map();
                for (const r of reports) {
                    if (!byRec.has(r.recipient))
                        byRec.set(r.recipient, []);
                    byRec.get(r.recipient).push(r);
                }
                const overdue = reports.filter((r) => r.overdue).length;
                if (overdue)
                    body.push(notice('error', t('esc.overdue_n', overdue)));
                /* one column per recipient: what it is owed, when, and
                 * whether it went (overdue stands out) */
                body.push(h('div', { class: 'esc-recips', id: 'esc-reports' },
                    [...byRec].map(([rec, rs]) => h('div', {
                        class: 'esc-recip' + (rs.some((r) => r.overdue) ? ' has-overdue' : ''), 'data-recipient': rec
                    },
                    h('div', { class: 'esc-recip-head' },
                        h('b', null, recipientName(rec)), h('span', { class: 'mono muted small' }, rec),
                        rs.some((r) => r.overdue) ? h('span', { class: 'pill overdue-pill' }, t('esc.overdue')) : null),
                    h('ul', { class: 'esc-items' }, rs.map((r) => h('li', {
                        class: 'esc-item' + (r.overdue ? ' overdue' : ''), 'data-report': r.report
                    },
                    h('div', { class: 'esc-line' },
                        h('span', { class: 'esc-name' }, tOr('report.' + r.report, r.report)),
                        h('span', { class: 'chip' }, t('stage.' + r.stage)),
                        r.mandatory ? null : h('span', { class: 'muted small' }, t('esc.optional')),
                        h('span', { class: 'spacer' }),
                        h('span', { class: 'pill dl dl-' + r.delivery }, t('dl.' + r.delivery))),
                    h('div', { class: 'esc-due due' },
                        r.overdue ? h('span', { class: 'pill overdue-pill' }, t('esc.overdue')) : null,
                        r.due_at ? [h('span', { class: 'muted' }, t('esc.due'), ' '), timeEl(r.due_at, true)]
                            : h('span', { class: 'muted' }, t('esc.no_due')),
                        r.every_seconds ? h('span', { class: 'muted' }, ' · ', t('esc.every', fmtNum(r.every_seconds / 86400, 1))) : null))))))));
            } else {
                body.push(h('p', { class: 'muted', id: 'esc-none' }, t('esc.none', esc.regime)));
            }
        }
        const entries = (esc && esc.escalations) || [];
        if (entries.length) {
            const admin = state.me.role === 'admin';
            body.push(h('h3', null, t('esc.outbox')),
                h('table', { class: 'grid esc', id: 'esc-outbox' },
                    h('thead', null, h('tr', null, ['esc.recipient', 'esc.channel', 'esc.state', 'esc.attempts',
                        'esc.next', 'esc.done', 'esc.error', ''].map((k) => h('th', null, k ? t(k) : '')))),
                    h('tbody', null, entries.map((e) => h('tr', { class: e.state === 'failed' ? 'failed' : '' },
                        h('td', null, recipientName(e.recipient)),
                        h('td', { class: 'mono small' }, e.channel),
                        h('td', null, h('span', { class: 'pill ob ob-' + e.state }, t('ob.' + e.state))),
                        h('td', { class: 'num' }, String(e.attempts)),
                        h('td', null, e.due_at ? timeEl(e.due_at, true) : '—'),
                        h('td', null, e.done_at ? timeEl(e.done_at) : '—'),
                        h('td', { class: 'small err-text' }, e.last_error || ''),
                        h('td', null, admin && e.state !== 'delivered' ? h('button', {
                            type: 'button', class: 'btn small', onclick: () => retry(view, e.id)
                        }, t('esc.retry')) : null))))),
                esc.truncated ? h('p', { class: 'muted small' }, t('esc.truncated')) : null);
        }
        return card(t('esc.title'), { id: 'escalations' }, body);
    }

    function reportCard(view) {
        if (!state.reportLang)
            state.reportLang = state.lang;
        const seg = h('div', { class: 'seg', role: 'group', id: 'report-lang' },
            LANGS.map((l) => h('button', {
                type: 'button', id: 'report-' + l, class: state.reportLang === l ? 'on' : '',
                'aria-pressed': state.reportLang === l ? 'true' : 'false',
                onclick: () => {
                    state.reportLang = l;
                    document.querySelectorAll('#report-lang button').forEach((b) => {
                        const on = b.id === 'report-' + l;
                        b.className = on ? 'on' : '';
                        b.setAttribute('aria-pressed', on ? 'true' : 'false');
                    });
                    loadReport(view);
                }
            }, t('lang.name.' + l))));
        const stage = h('select', {
            id: 'report-stage', value: state.reportStage,
            onchange: (ev) => { state.reportStage = ev.target.value; loadReport(view); }
        }, ['initial', 'update', 'final'].map((s) => h('option', { value: s }, t('stage.' + s))));
        return card(t('rep.title'), { id: 'report' },
            h('div', { class: 'rep-bar' }, seg, h('label', { class: 'inline' }, t('rep.stage'), ' ', stage),
                h('span', { class: 'muted small' }, t('rep.note'))),
            h('pre', { class: 'report-text', id: 'report-text', 'data-state': 'loading' }, t('loading')));
    }

    async function loadReport(view) {
        const inc = view.data && view.data.inc;
        const pre = $('report-text');
        if (!inc || !pre)
            return;
        const key = [inc.id, state.reportStage, state.reportLang].join('|');
        pre.setAttribute('data-state', 'loading');
        pre.classList.remove('report-error');
        let text, ok = true;
        if (state.reportCache.has(key)) {
            text = state.reportCache.get(key);
        } else {
            try {
                text = await api('/api/v1/incidents/' + enc(inc.id) + '/report?' + new URLSearchParams({
                    format: 'text', lang: state.reportLang, stage: state.reportStage
                }).toString(), { accept: 'text/plain' });
                state.reportCache.set(key, text);
            } catch (e) {
                ok = false;
                text = t('rep.unavailable', e.message);
            }
        }
        const now = $('report-text');
        if (now !== pre || key !== [inc.id, state.reportStage, state.reportLang].join('|'))
            return; /* the page or the choice changed meanwhile */
        pre.textContent = text;
        pre.lang = state.reportLang;
        if (!ok)
            pre.classList.add('report-error');
        pre.setAttribute('data-state', ok ? 'ready' : 'error');
    }

    /* ------------------------------------------------------------ rules */

    function normRules(d) {
        const list = Array.isArray(d) ? d : (d && (d.rules || d.items)) || [];
        return list.map((r) => {
            let hits = null;
            for (const k of ['hits', 'hit_count', 'detections', 'matches', 'count'])
                if (typeof r[k] === 'number') {
                    hits = r[k];
                    break;
                }
            return {
                id: r.id || r.rule_id || '', title: r.title || r.rule_title || '', level: r.level || '',
                kind: r.kind || r.type || '', hits, file: r.file || r.path || ''
            };
        });
    }

    function rulesView() {
        let filter = '';
        const view = {
            name: 'rules',
            async load() {
                try {
                    return { ok: true, rules: normRules(await api('/api/v1/rules')) };
                } catch (e) {
                    if (e.status === 404)
                        return { ok: false, reason: e.message };
                    throw e;
                }
            },
            render(d) {
                const page = h('div', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', null, t('rules.title'))));
                if (!d.ok) {
                    page.append(notice('info', h('b', { id: 'rules-na' }, t('rules.na')), ' ', t('rules.na_why')),
                        h('p', { class: 'muted small' }, t('rules.server_said', d.reason)));
                    return page;
                }
                const rules = d.rules.slice().sort((a, b) => (b.hits || 0) - (a.hits || 0) || a.title.localeCompare(b.title));
                const max = Math.max(1, ...rules.map((r) => r.hits || 0));
                const body = h('tbody');
                const fill = () => {
                    const q = filter.toLowerCase();
                    body.replaceChildren(...rules.filter((r) => !q || (r.title + ' ' + r.id + ' ' + r.level).toLowerCase().includes(q))
                        .map((r) => h('tr', null,
                            h('td', null, r.title || r.id, h('div', { class: 'sub mono' }, r.id)),
                            h('td', null, r.level ? sevPill(r.level === 'info' ? 'informational' : r.level) : ''),
                            h('td', null, r.kind),
                            h('td', { class: 'num' }, r.hits === null ? '—' : fmtNum(r.hits)),
                            h('td', { class: 'barcell' }, svg('svg', { viewBox: '0 0 100 8', preserveAspectRatio: 'none', class: 'bar' },
                                svg('rect', { x: 0, y: 0, width: 100, height: 8, class: 'bar-bg' }),
                                svg('rect', { x: 0, y: 0, width: Math.max(0.5, 100 * (r.hits || 0) / max), height: 8, class: 'bar-fg' }))))));
                };
                fill();
                page.append(card(null, { class: 'card table-card' },
                    h('div', { class: 'filters' }, textField('rules-filter', '', t('rules.filter'), t('rules.filter.ph'), {
                        type: 'search', oninput: (ev) => { filter = ev.target.value; fill(); }
                    }), h('span', { class: 'muted small rules-n' }, t('rules.n', fmtNum(rules.length)))),
                    h('table', { class: 'grid', id: 'rules' }, h('thead', null, h('tr', null,
                        ['rules.rule', 'rules.level', 'rules.kind', 'rules.hits', ''].map((k) => h('th', { class: k === 'rules.hits' ? 'num' : '' }, k ? t(k) : '')))),
                    body)));
                return page;
            }
        };
        return view;
    }

    /* ----------------------------------------------------------- health */

    /* Prometheus text exposition (0.0.4) into Map name -> [{labels, value}]. */
    function parseProm(text) {
        const out = new Map();
        for (const line of String(text).split('\n')) {
            if (!line)
                continue;
            if (line[0] === '#') {
                const m = /^#\s*TYPE\s+([A-Za-z_:][A-Za-z0-9_:]*)\s/.exec(line);
                if (m && !out.has(m[1]))
                    out.set(m[1], []); /* a family without samples is still reported */
                continue;
            }
            let i = 0;
            while (i < line.length && /[A-Za-z0-9_:]/.test(line[i]))
                i++;
            const name = line.slice(0, i);
            if (!name)
                continue;
            const labels = {};
            if (line[i] === '{') {
                i++;
                for (;;) {
                    while (line[i] === ' ' || line[i] === ',')
                        i++;
                    if (i >= line.length || line[i] === '}') {
                        i++;
                        break;
                    }
                    const eq = line.indexOf('=', i);
                    if (eq < 0 || line[eq + 1] !== '"')
                        return out; /* malformed: keep what we have */
                    const lname = line.slice(i, eq).trim();
                    let v = '';
                    let j = eq + 2;
                    for (; j < line.length && line[j] !== '"'; j++) {
                        if (line[j] === '\\' && j + 1 < line.length) {
                            j++;
                            v += line[j] === 'n' ? '\n' : line[j];
                        } else {
                            v += line[j];
                        }
                    }
                    labels[lname] = v;
                    i = j + 1;
                }
            }
            const parts = line.slice(i).trim().split(/\s+/);
            const raw = parts[0];
            const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
            if (!out.has(name))
                out.set(name, []);
            out.get(name).push({ labels, value });
        }
        return out;
    }

    function firstSeries(m, names) {
        for (const n of names)
            if (m.has(n))
                return { name: n, samples: m.get(n) };
        return null;
    }

    function sum(samples) {
        return samples.reduce((a, s) => a + (isFinite(s.value) ? s.value : 0), 0);
    }

    async function sampleMetrics() {
        let text;
        try {
            const r = await fetch('/metrics', { cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
            text = await r.text();
            if (!r.ok)
                throw new Error('HTTP ' + r.status);
        } catch (e) {
            state.metricsError = t('health.fetch_failed', e.message);
            return;
        }
        state.metricsError = null;
        const m = parseProm(text);
        const s = { t: Date.now(), m };
        for (const k of Object.keys(SERIES)) {
            const fam = firstSeries(m, SERIES[k]);
            s[k] = fam ? sum(fam.samples) : null;
            s[k + 'Name'] = fam ? fam.name : null;
            if (k === 'lag' && fam)
                s.lagMax = Math.max(0, ...fam.samples.map((x) => (isFinite(x.value) ? x.value : 0)));
        }
        state.samples.push(s);
        if (state.samples.length > METRICS_KEEP)
            state.samples.shift();
    }

    function stopMetrics() {
        clearTimeout(state.bootTimer);
        clearInterval(state.metricsTimer);
        state.bootTimer = state.metricsTimer = null;
    }

    /* Per-second rates of a counter between consecutive samples (a reset
     * counts from zero). */
    function rates(samples, key) {
        const out = [];
        for (let i = 1; i < samples.length; i++) {
            const a = samples[i - 1], b = samples[i];
            if (a[key] === null || b[key] === null)
                continue;
            const dt = (b.t - a.t) / 1000;
            if (dt <= 0)
                continue;
            const dv = b[key] >= a[key] ? b[key] - a[key] : b[key];
            out.push({ t: b.t, v: dv / dt });
        }
        return out;
    }

    function gauge(samples, key) {
        return samples.filter((s) => s[key] !== null).map((s) => ({ t: s.t, v: s[key] }));
    }

    /* A small line chart of points {t, v} over the kept window, inline SVG. */
    function chart(points, id, fmt) {
        const W = 320, H = 96, P = 4;
        const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', id, role: 'img' });
        /* x: the time the points cover (up to the METRICS_KEEP samples) */
        const t0 = points.length ? points[0].t : 0;
        const t1 = points.length ? points[points.length - 1].t : 0;
        const span = t1 - t0;
        const max = Math.max(1e-9, ...points.map((p) => p.v));
        const niceMax = max <= 1e-9 ? 1 : max * 1.15;
        const x = (tm) => (span > 0 ? P + (W - 2 * P) * ((tm - t0) / span) : W - P - 3);
        const y = (v) => H - P - (H - 2 * P - 14) * (v / niceMax);
        for (const f of [0, 0.5, 1])
            root.appendChild(svg('line', { x1: P, x2: W - P, y1: y(niceMax * f), y2: y(niceMax * f), class: 'grid-line' }));
        if (points.length) {
            const pts = points.map((p) => x(p.t).toFixed(1) + ',' + y(p.v).toFixed(1));
            const first = points[0], last = points[points.length - 1];
            root.appendChild(svg('path', {
                d: 'M' + x(first.t).toFixed(1) + ',' + y(0).toFixed(1) + ' L' + pts.join(' L') + ' L' + x(last.t).toFixed(1) + ',' + y(0).toFixed(1) + ' Z',
                class: 'area'
            }));
            root.appendChild(svg('polyline', { points: pts.join(' '), class: 'line' }));
            root.appendChild(svg('circle', { cx: x(last.t), cy: y(last.v), r: 3, class: 'dot' }));
        }
        root.appendChild(svg('text', { x: P + 2, y: 11, class: 'axis' }, fmt(niceMax / 1.15)));
        if (span > 0)
            root.appendChild(svg('text', { x: W - P - 2, y: H - 6, class: 'axis end' },
                span < 120000 ? t('health.window_s', Math.round(span / 1000)) : t('health.window', Math.round(span / 60000))));
        return root;
    }

    function metricCard(id, title, points, fmt, unit, present, extra) {
        const last = points.length ? points[points.length - 1].v : null;
        return h('section', { class: 'card metric', id },
            h('h2', { class: 'card-title' }, title),
            present ? [h('div', { class: 'big' }, last === null ? '…' : fmt(last), h('span', { class: 'unit' }, ' ', unit)),
                chart(points, id + '-chart', fmt), extra || null]
                : h('p', { class: 'absent' }, t('health.series_absent')));
    }

    function bars(id, rows, fmt) {
        const max = Math.max(1, ...rows.map((r) => r[1]));
        return h('table', { class: 'bars', id }, h('tbody', null, rows.map(([label, v, cls]) => h('tr', null,
            h('th', null, label),
            h('td', { class: 'barcell' }, svg('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none', class: 'bar' },
                svg('rect', { x: 0, y: 0, width: 100, height: 10, class: 'bar-bg' }),
                svg('rect', { x: 0, y: 0, width: v ? Math.max(1, 100 * v / max) : 0, height: 10, class: 'bar-fg ' + (cls || '') }))),
            h('td', { class: 'num' }, fmt ? fmt(v) : fmtNum(v))))));
    }

    function overdueEl(n) {
        return h('span', { class: n > 0 ? 'overdue-count' : '' }, fmtNum(n));
    }

    function renderHealth() {
        const ss = state.samples;
        const last = ss.length ? ss[ss.length - 1] : null;
        const page = h('div', { class: 'page', id: 'health' },
            h('div', { class: 'page-head' }, h('h1', null, t('health.title')), h('span', { class: 'spacer' }),
                h('span', { class: 'muted small', id: 'health-updated' }, last ? t('health.updated', fmtTime(new Date(last.t).toISOString()), METRICS_EVERY_MS / 1000) : t('loading'))));
        if (state.metricsError)
            page.append(notice('error', state.metricsError));
        if (!last)
            return page;
        const present = { events: last.events !== null, dead: last.dead !== null, lag: last.lag !== null };
        if (!present.events && !present.dead && !present.lag)
            page.append(notice('info', h('b', { id: 'ingest-absent' }, t('health.absent')), ' ', t('health.absent_why')));
        const evRates = rates(ss, 'events');
        const dlRates = rates(ss, 'dead');
        page.append(h('div', { class: 'metrics-grid' },
            metricCard('m-events', t('health.events'), evRates, (v) => fmtNum(v, v < 10 ? 1 : 0), t('health.per_s'), present.events,
                present.events ? h('p', { class: 'small muted' }, t('health.total', fmtNum(last.events))) : null),
            metricCard('m-lag', t('health.lag'), gauge(ss, 'lag'), (v) => fmtNum(v), t('health.messages'), present.lag,
                present.lag ? h('p', { class: 'small muted' }, t('health.lag_max', fmtNum(last.lagMax))) : null),
            metricCard('m-dead', t('health.dead'), dlRates, (v) => fmtNum(v, 2), t('health.per_s'), present.dead,
                present.dead ? h('p', { class: 'small muted' + (last.dead > 0 ? ' warn-text' : '') }, t('health.total', fmtNum(last.dead))) : null)));

        /* the store-side series: there in serve and in run */
        const m = last.m;
        const byLabel = (name, label, keep) => {
            const r = new Map();
            for (const s of m.get(name) || [])
                if (!keep || keep(s.labels))
                    r.set(s.labels[label], (r.get(s.labels[label]) || 0) + (isFinite(s.value) ? s.value : 0));
            return r;
        };
        /* /metrics counts every tenant's incidents: keep the token's own */
        const all = state.me.tenants.includes('*');
        const mine = (l) => all || state.me.tenants.includes(l.tenant);
        const st = byLabel('tocsin_incidents', 'status', mine);
        const sv = byLabel('tocsin_incidents', 'severity', mine);
        const ob = byLabel('tocsin_outbox_entries', 'state');
        const od = byLabel('tocsin_reports_overdue', 'recipient');
        const one = (name) => (m.has(name) ? sum(m.get(name)) : null);
        const used = one('tocsin_store_map_used_bytes'), size = one('tocsin_store_map_size_bytes'), cap = one('tocsin_store_map_max_bytes');
        const build = (m.get('tocsin_build_info') || [])[0];
        page.append(h('h2', { class: 'section-title' }, t('health.store'),
            all ? null : h('span', { class: 'muted small' }, ' · ', t('health.mine'))),
            h('div', { class: 'metrics-grid' },
                card(t('health.inc_status'), { id: 'm-inc-status' }, bars('bars-status', STATUSES.map((s) => [t('status.' + s), st.get(s) || 0, 'st-' + s]))),
                card(t('health.inc_severity'), { id: 'm-inc-sev' }, bars('bars-sev', SEVERITIES.map((s) => [t('sev.' + s), sv.get(s) || 0, 'sev-' + s]))),
                card(t('health.outbox'), { id: 'm-outbox' },
                    bars('bars-outbox', ['pending', 'delivered', 'failed'].map((s) => [t('ob.' + s), ob.get(s) || 0, 'ob-' + s])),
                    kv([[t('health.due'), fmtNum(one('tocsin_outbox_due_entries'))],
                        [t('health.oldest_due'), fmtNum(one('tocsin_outbox_oldest_due_seconds'), 0) + ' s'],
                        [t('health.overdue'), m.has('tocsin_reports_overdue') ? overdueEl([...od.values()].reduce((a, b) => a + b, 0)) : t('health.na')]])),
                card(t('health.storage'), { id: 'm-store' }, kv([
                    [t('health.map_used'), used === null ? '—' : fmtBytes(used) + (size ? ' / ' + fmtBytes(size) : '')],
                    [t('health.map_max'), cap === null ? '—' : fmtBytes(cap)],
                    [t('health.readers'), fmtNum(one('tocsin_store_readers'))],
                    [t('health.http'), fmtNum(one('tocsin_http_requests_total'))],
                    [t('health.version'), build ? build.labels.version : '—']
                ]))));
        return page;
    }

    function healthView() {
        const view = {
            name: 'health',
            async load() {
                if (!state.samples.length || Date.now() - state.samples[state.samples.length - 1].t > METRICS_EVERY_MS)
                    await sampleMetrics();
                return null;
            },
            render() {
                return renderHealth();
            },
            after() {
                if (state.metricsTimer)
                    return;
                const tick = async () => {
                    await sampleMetrics();
                    if (state.view === view && $('health')) {
                        $('main').replaceChildren(renderHealth());
                        setBodyState('ready', 'health');
                    }
                };
                /* a second sample soon, for a first rate, then every few seconds */
                if (state.samples.length < 2)
                    state.bootTimer = setTimeout(tick, 1000);
                state.metricsTimer = setInterval(tick, METRICS_EVERY_MS);
            }
        };
        return view;
    }

    /* ------------------------------------------------------------ start */

    window.addEventListener('hashchange', () => route());
    if (document.readyState === 'loading')
        document.addEventListener('DOMContentLoaded', () => route());
    else
        route();
}());
