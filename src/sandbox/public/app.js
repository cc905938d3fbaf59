/* The sandbox page: renders server-rendered Block Kit HTML and sends what the user does back to the server,
   which signs it and posts it to the bot like Slack would. Plain JS, no build step. */
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const COLORS = ['#2eb67d', '#e01e5a', '#36c5f0', '#ecb22e', '#4a154b', '#1264a3'];
  const params = new URLSearchParams(location.search);
  let me = params.get('user') || localStorage.getItem('xs-sandbox-user') || 'U0KENJI';
  let state = null;
  let openThreadTs = null;
  let shownViewId = null;
  let pending = null;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }
  function color(name) {
    let h = 0;
    for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return COLORS[h % COLORS.length];
  }
  function avatar(name, small) {
    return `<span class="avatar${small ? ' small' : ''}" style="background:${color(name)}">${esc(name.slice(0, 1).toUpperCase())}</span>`;
  }
  function time(ts) {
    const d = new Date(Number(ts) * 1000);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  function toast(text) {
    const t = $('toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.hidden = true), 5000);
  }
  async function api(path, body) {
    const res = await fetch(path, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {});
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    return data;
  }

  function messageHtml(m, inThread) {
    const badge = m.isBot ? '<span class="app-badge">APP</span>' : '';
    const only = m.ephemeral ? '<div class="only-you">👁 Only visible to you</div>' : '';
    const edited = m.edited ? ' <span class="edited">(edited)</span>' : '';
    const replies =
      !inThread && m.replyCount > 0
        ? `<div class="replies"><button type="button" data-open-thread="${esc(m.ts)}">${m.replyCount} ${m.replyCount === 1 ? 'reply' : 'replies'}</button></div>`
        : '';
    return (
      `<div class="msg${m.ephemeral ? ' ephemeral' : ''}" data-ts="${esc(m.ts)}" data-testid="message">` +
      `${avatar(m.author)}<div class="msg-body">${only}<div class="msg-meta"><span class="msg-author">${esc(m.author)}</span>${badge}` +
      `<span class="msg-time">${time(m.ts)}</span></div><div class="msg-content">${m.html}${edited}</div>${replies}</div></div>`
    );
  }

  /** replace an element's HTML only when it changed, so clicks and focus survive periodic refreshes */
  const lastHtml = new WeakMap();
  function setHtml(el, html) {
    if (lastHtml.get(el) === html) return false;
    lastHtml.set(el, html);
    el.innerHTML = html;
    return true;
  }

  function renderMessages(container, list, inThread) {
    const nearBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 80;
    const html = list.length ? list.map((m) => messageHtml(m, inThread)).join('') : '<div class="empty">No messages yet. Type <code>/xsupgrade plan pool-a</code> below.</div>';
    if (!setHtml(container, html)) return;
    if (nearBottom) container.scrollTop = container.scrollHeight;
  }

  function renderThread() {
    const pane = $('thread');
    if (!openThreadTs || !state) {
      pane.hidden = true;
      return;
    }
    const parent = state.messages.find((m) => m.ts === openThreadTs);
    const replies = state.messages.filter((m) => m.threadTs === openThreadTs);
    if (!parent) {
      pane.hidden = true;
      return;
    }
    pane.hidden = false;
    const c = $('thread-messages');
    const nearBottom = c.scrollHeight - c.scrollTop - c.clientHeight < 80;
    const changed = setHtml(
      c,
      messageHtml(parent, true) +
        `<div class="reply-sep">${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}</div>` +
        replies.map((m) => messageHtml(m, true)).join(''),
    );
    if (changed && nearBottom) c.scrollTop = c.scrollHeight;
  }

  function renderUsers() {
    setHtml($('user-switcher'), state.users
      .map(
        (u) =>
          `<button type="button" role="radio" aria-checked="${u.id === me}" data-user="${esc(u.id)}">${avatar(u.name, true)}` +
          `<span>${esc(u.name)} <span class="role">(${esc(u.role)})</span></span></button>`,
      )
      .join(''));
  }

  function renderModal() {
    const view = state.views[state.views.length - 1];
    const overlay = $('modal');
    if (!view) {
      overlay.hidden = true;
      shownViewId = null;
      return;
    }
    // keep what the user already typed when the same view re-renders (e.g. with errors)
    const typed = {};
    if (shownViewId === view.id) for (const el of $('modal-body').querySelectorAll('[name]')) typed[el.name] = el.value;
    $('modal-title').innerHTML = view.title;
    if (!setHtml($('modal-body'), view.body) && shownViewId === view.id) return;
    for (const el of $('modal-body').querySelectorAll('[name]')) if (el.name in typed) el.value = typed[el.name];
    $('modal-submit').innerHTML = view.submit || 'Submit';
    $('modal-submit').hidden = !view.submit;
    $('modal-close').innerHTML = view.close;
    overlay.dataset.viewId = view.id;
    overlay.dataset.callbackId = view.callbackId;
    overlay.hidden = false;
    if (shownViewId !== view.id) {
      const first = $('modal-body').querySelector('input,textarea');
      if (first) first.focus();
    }
    shownViewId = view.id;
  }

  async function refresh() {
    state = await api(`/api/state?user=${encodeURIComponent(me)}`);
    $('workspace').textContent = state.team;
    $('channel-title').textContent = `# ${state.channel.name}`;
    renderUsers();
    renderMessages($('messages'), state.messages.filter((m) => !m.threadTs), false);
    renderThread();
    renderModal();
    document.body.dataset.user = me;
  }
  let refreshTimer = null;
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => refresh().catch((e) => toast(e.message)), 30);
  }

  /* confirm dialogs, shown before the click is sent (Slack's confirm object) */
  function askConfirm(dialog) {
    return new Promise((resolve) => {
      $('confirm-title').innerHTML = dialog.title;
      $('confirm-text').innerHTML = dialog.text;
      $('confirm-ok').innerHTML = dialog.confirm;
      $('confirm-ok').className = `btn ${dialog.style === 'danger' ? 'danger' : 'primary'}`;
      $('confirm-deny').innerHTML = dialog.deny;
      $('confirm').hidden = false;
      pending = (ok) => {
        $('confirm').hidden = true;
        pending = null;
        resolve(ok);
      };
    });
  }
  $('confirm-ok').addEventListener('click', () => pending && pending(true));
  $('confirm-deny').addEventListener('click', () => pending && pending(false));

  async function clickButton(btn) {
    const msg = btn.closest('[data-ts]');
    if (!msg) return;
    if (btn.dataset.confirm) {
      const ok = await askConfirm(JSON.parse(btn.dataset.confirm));
      if (!ok) return;
    }
    btn.disabled = true;
    try {
      const r = await api('/api/action', { user: me, ts: msg.dataset.ts, blockId: btn.dataset.blockId, actionId: btn.dataset.actionId });
      if (!r.ok) toast(`⚠️ ${r.error}`);
    } catch (e) {
      toast(`⚠️ ${e.message}`);
    } finally {
      btn.disabled = false;
    }
  }

  document.addEventListener('click', (ev) => {
    const t = ev.target instanceof Element ? ev.target : null;
    if (!t) return;
    const btn = t.closest('button[data-action-id]');
    if (btn && !t.closest('#modal')) return void clickButton(btn);
    const th = t.closest('[data-open-thread]');
    if (th) {
      openThreadTs = th.dataset.openThread;
      renderThread();
      return;
    }
    const u = t.closest('[data-user]');
    if (u) {
      me = u.dataset.user;
      localStorage.setItem('xs-sandbox-user', me);
      scheduleRefresh();
    }
  });
  $('thread-close').addEventListener('click', () => {
    openThreadTs = null;
    renderThread();
  });

  $('composer').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('composer-input');
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    try {
      const r = await api('/api/command', { user: me, text });
      if (!r.ok && r.error) toast(`⚠️ ${r.error}`);
    } catch (e) {
      toast(`⚠️ ${e.message}`);
    }
  });
  const HINTS = ['/xsupgrade help', '/xsupgrade plan pool-a', '/xsupgrade status', '/xsupgrade plan pool-b'];
  $('hints').innerHTML = HINTS.map((h) => `<button type="button" data-hint="${esc(h)}">${esc(h)}</button>`).join('');
  $('hints').addEventListener('click', (ev) => {
    const h = ev.target.closest('[data-hint]');
    if (!h) return;
    $('composer-input').value = h.dataset.hint;
    $('composer-input').focus();
  });

  $('modal-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const viewId = $('modal').dataset.viewId;
    const values = {};
    for (const el of $('modal-body').querySelectorAll('[name]')) values[el.name] = el.value;
    $('modal-submit').disabled = true;
    try {
      const r = await api('/api/view/submit', { user: me, viewId, values });
      if (!r.ok && r.error) toast(`⚠️ ${r.error}`);
    } catch (e) {
      toast(`⚠️ ${e.message}`);
    } finally {
      $('modal-submit').disabled = false;
      scheduleRefresh();
    }
  });
  $('modal-close').addEventListener('click', async () => {
    try {
      await api('/api/view/close', { user: me, viewId: $('modal').dataset.viewId });
    } catch (e) {
      toast(e.message);
    }
    scheduleRefresh();
  });

  /* the simulator side panel */
  function hostsOf(pool) {
    return Array.isArray(pool.hosts) ? pool.hosts : [];
  }
  // A refresh that replaces a button between the press and the release of a click loses that click (the browser
  // sends it to the panel, not the new button): while a press is held in the panel, the refresh waits for the release.
  let pressed = false;
  let heldPools;
  $('pools').addEventListener('pointerdown', () => {
    pressed = true;
  });
  window.addEventListener('pointerup', () => {
    pressed = false;
    // after this release's click has been dispatched
    setTimeout(() => {
      if (heldPools && !pressed) {
        const pools = heldPools;
        heldPools = undefined;
        renderPools(pools);
      }
    }, 0);
  });
  function renderPools(pools) {
    if (pressed) {
      heldPools = pools;
      return;
    }
    if (!pools.length) {
      setHtml($('pools'), '<div class="empty">No simulator attached.</div>');
      return;
    }
    setHtml($('pools'), pools
      .map((p) => {
        const hosts = hostsOf(p)
          .map((h) => {
            const version = h.productVersion || h.version || '?';
            const power = h.power || (h.live === false ? 'off' : 'on');
            const role = h.role === 'master' ? '<span class="tag master">master</span>' : '';
            // a reinstalled machine is its own stand-alone pool until Forget & rejoin adds it back (R4.2)
            const disabled =
              h.inPool === false
                ? '<span class="tag" data-testid="stand-alone" title="reinstalled: not a member of the pool until it rejoins">stand-alone</span>'
                : h.enabled === false
                  ? '<span class="tag">disabled</span>'
                  : '';
            const act = (action, label, cls) =>
              `<button type="button" class="${cls || ''}" data-sim-pool="${esc(p.name)}" data-sim-host="${esc(h.name)}" data-sim-action="${action}">${label}</button>`;
            return (
              `<div class="host" data-host="${esc(h.name)}"><div class="host-line"><span class="host-name">${esc(h.name)}</span>${role}` +
              `<span class="tag power-${esc(power)}">${esc(power)}</span><span class="tag">XenServer ${esc(version)}</span>${disabled}</div>` +
              `<div class="pool-meta">${esc(h.address || '')}</div><div class="host-actions">` +
              act('fail-install', 'Fail next install', 'danger') +
              act('complete-install', 'Complete manual install') +
              act(power === 'off' ? 'power-on' : 'power-off', power === 'off' ? 'Power on' : 'Power off') +
              act('reinstall', 'Reinstall fresh (for Forget & rejoin)') +
              `</div></div>`
            );
          })
          .join('');
        return `<div class="pool" data-pool="${esc(p.name)}"><div class="pool-name">${esc(p.name)}</div><div class="pool-meta">${esc(p.masterUrl || '')}</div>${hosts}</div>`;
      })
      .join(''));
  }
  async function refreshPools() {
    if (!state || !state.simPanel) {
      if (state) renderPools([]);
      return;
    }
    try {
      const data = await api('/sim/pools');
      renderPools(Array.isArray(data) ? data : data.pools || []);
    } catch (e) {
      $('pools').innerHTML = `<div class="empty">Simulator unavailable: ${esc(e.message)}</div>`;
    }
  }
  $('pools').addEventListener('click', async (ev) => {
    const b = ev.target.closest('[data-sim-action]');
    if (!b) return;
    const pool = encodeURIComponent(b.dataset.simPool);
    const host = b.dataset.simHost;
    const action = b.dataset.simAction;
    const out = $('sim-result');
    try {
      let r;
      if (action === 'fail-install') {
        r = await api(`/sim/pools/${pool}/faults`, { kind: 'install-fails', host, times: 1 });
        out.innerHTML = `💥 The next upgrade install on <b>${esc(host)}</b> will fail.`;
      } else {
        r = await api(`/sim/pools/${pool}/hosts/${encodeURIComponent(host)}/${action}`, {});
        if (action === 'reinstall') {
          out.innerHTML =
            `🆕 <b>${esc(host)}</b> was reinstalled as a fresh stand-alone host. Its new address: ` +
            `<code data-testid="new-address">${esc(r.address)}</code> — paste it into the <i>Forget host &amp; rejoin</i> dialog.` +
            (r.fingerprint256
              ? ` Its console shows a new certificate (a fresh install makes one), SHA-256 fingerprint ` +
                `<code data-testid="new-fingerprint">${esc(r.fingerprint256)}</code>: compare it with the one the bot shows, and type it to confirm.`
              : '');
        } else out.innerHTML = `✔️ ${esc(action)} on <b>${esc(host)}</b>`;
      }
      out.hidden = false;
      refreshPools();
    } catch (e) {
      out.innerHTML = `⚠️ ${esc(action)} on ${esc(host)} failed: ${esc(e.message)}`;
      out.hidden = false;
    }
  });

  const events = new EventSource('/api/events');
  events.addEventListener('change', scheduleRefresh);
  events.addEventListener('open', scheduleRefresh);
  refresh()
    .then(refreshPools)
    .catch((e) => toast(e.message));
  setInterval(refreshPools, 1500);
  // a slow safety net in case an SSE event was missed
  setInterval(scheduleRefresh, 5000);
})();
