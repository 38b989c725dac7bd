/**
 * A tiny history router. Routes are path patterns with :params; each page is a function
 * render(ctx) that fills ctx.root and registers cleanups (streams, timers) that run when the
 * user leaves. Same-origin link clicks are handled without reloading; focus moves to the new
 * page's heading so keyboard and screen-reader users land on it.
 */

export function compile(pattern) {
  const names = [];
  const source = pattern
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        names.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  const regex = new RegExp(`^${source}/?$`);
  return (path) => {
    const m = regex.exec(path);
    if (!m) return null;
    const params = {};
    names.forEach((n, i) => {
      params[n] = decodeURIComponent(m[i + 1]);
    });
    return params;
  };
}

export function createRouter({ root, routes, notFound, onRoute }) {
  const table = routes.map((r) => ({ ...r, match: compile(r.path) }));
  let current = null;
  let seq = 0;
  let rendered = null;

  const leave = () => {
    if (!current) return;
    current.controller.abort();
    for (const fn of current.cleanups.splice(0)) {
      try {
        fn();
      } catch (err) {
        console.error(err);
      }
    }
  };

  const render = async ({ focus = true } = {}) => {
    leave();
    const mySeq = ++seq;
    const url = new URL(location.href);
    rendered = url.pathname + url.search;
    let route = notFound;
    let params = {};
    for (const r of table) {
      const p = r.match(url.pathname);
      if (p) {
        route = r;
        params = p;
        break;
      }
    }
    const controller = new AbortController();
    const cleanups = [];
    current = { controller, cleanups };
    const ctx = {
      root,
      params,
      query: url.searchParams,
      signal: controller.signal,
      navigate,
      onCleanup: (fn) => cleanups.push(fn),
      /** Runs fn every ms while the page is shown and the tab visible. */
      every: (ms, fn) => {
        const id = setInterval(() => {
          if (!document.hidden) fn();
        }, ms);
        cleanups.push(() => clearInterval(id));
      },
      isCurrent: () => mySeq === seq,
    };
    onRoute?.(route, url);
    root.setAttribute('aria-busy', 'true');
    try {
      await route.render(ctx);
    } catch (err) {
      if (err?.name !== 'AbortError' && mySeq === seq) (route.onError ?? notFound.onError)(ctx, err);
    } finally {
      if (mySeq === seq) root.removeAttribute('aria-busy');
    }
    if (mySeq !== seq) return;
    const heading = root.querySelector('h1');
    if (heading) document.title = `${heading.textContent.trim()} · ML Lambda`;
    if (focus) {
      const target = heading ?? root;
      if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
      target.focus({ preventScroll: false });
      window.scrollTo(0, 0);
    }
  };

  function navigate(to, { replace = false } = {}) {
    if (replace) history.replaceState(null, '', to);
    else history.pushState(null, '', to);
    return render();
  }

  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest?.('a[href]');
    if (!a || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    // In-page links (#contract) are left to the browser: it scrolls and moves focus itself.
    if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
    e.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
  window.addEventListener('popstate', () => {
    if (location.pathname + location.search !== rendered) render();
  });

  return { render, navigate, refresh: () => render({ focus: false }) };
}
