// hooktrigger UI: live updates, the run log stream and the playground.
// Everything from the server is inserted as text (textContent), or as
// server-escaped HTML parsed inert by DOMParser; no inline script exists.
(function () {
  'use strict';

  function $(id) { return document.getElementById(id); }
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }
  function status(text) {
    var s = $('live-status');
    if (s) { s.textContent = text; }
  }

  // Live region: on any change the server announces, fetch this page again
  // and swap in its #live element.
  function live() {
    if (!document.body.dataset.live || !window.EventSource) { return; }
    var pending = null;
    var busy = false;
    function refresh() {
      pending = null;
      if (busy) { pending = setTimeout(refresh, 300); return; }
      busy = true;
      fetch(location.href, { credentials: 'same-origin', headers: { 'X-Requested-With': 'fetch' } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, 'text/html');
          var fresh = doc.getElementById('live');
          var old = $('live');
          if (fresh && old) {
            var focused = document.activeElement && document.activeElement.id;
            old.replaceWith(document.importNode(fresh, true));
            if (focused && $(focused)) { $(focused).focus(); }
          }
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }
    var es = new EventSource('/ui/events');
    es.onopen = function () { status('● live'); };
    es.onerror = function () { status('○ reconnecting…'); };
    es.addEventListener('change', function () {
      if (!pending) { pending = setTimeout(refresh, 200); }
    });
  }

  // Run log: appended as text from /ui/runs/{id}/log; Pause holds new lines
  // back, Follow keeps the newest line in view.
  function runLog() {
    var log = $('log');
    if (!log || !window.EventSource) { return; }
    var paused = false;
    var held = [];
    var pause = $('log-pause');
    var follow = $('log-follow');
    var st = $('log-status');
    function append(text) {
      log.appendChild(document.createTextNode(text + '\n'));
      if (follow && follow.checked) { log.scrollTop = log.scrollHeight; }
    }
    if (pause) {
      pause.addEventListener('click', function () {
        paused = !paused;
        pause.textContent = paused ? 'Resume' : 'Pause';
        pause.setAttribute('aria-pressed', paused ? 'true' : 'false');
        if (!paused) { held.forEach(append); held = []; }
        if (st) { st.textContent = paused ? 'paused' : ''; }
      });
    }
    var es = new EventSource(log.dataset.stream);
    if (st) { st.textContent = 'streaming…'; }
    es.addEventListener('log', function (e) {
      if (paused) { held.push(e.data); } else { append(e.data); }
    });
    es.addEventListener('end', function (e) {
      es.close();
      var info = {};
      try { info = JSON.parse(e.data); } catch (err) {}
      if (st && !paused) { st.textContent = 'ended: ' + (info.state || ''); }
      var s = $('run-state');
      if (s && info.state) { s.textContent = info.state; s.className = 'state state-' + info.state; }
      var f = $('cancel-form');
      if (f) { f.remove(); }
    });
    es.onerror = function () { if (st && es.readyState !== 2) { st.textContent = 'reconnecting…'; } };
  }

  function lines(text, sep) {
    var out = {};
    text.split('\n').forEach(function (l) {
      var i = l.indexOf(sep);
      if (i <= 0) { return; }
      var k = l.slice(0, i).trim();
      var v = l.slice(i + 1).trim();
      (out[k] = out[k] || []).push(v);
    });
    return out;
  }

  // Playground: POST /api/extract, show the answer as text.
  function playground() {
    var form = $('playground');
    if (!form) { return; }
    var sel = $('pg-delivery');
    var payload = $('pg-payload');
    var kind = $('pg-kind');
    function syncKind() {
      var trig = kind.value === 'trigger';
      $('pg-expr').disabled = trig;
      $('pg-trigger').disabled = !trig;
      $('pg-start').disabled = !trig;
    }
    kind.addEventListener('change', syncKind);
    syncKind();
    sel.addEventListener('change', function () {
      if (!sel.value) { return; }
      fetch('/api/deliveries/' + encodeURIComponent(sel.value), { credentials: 'same-origin' })
        .then(function (r) { return r.json(); })
        .then(function (j) { if (sel.value && typeof j.body === 'string') { payload.value = j.body; } })
        .catch(function () {});
    });
    payload.addEventListener('input', function () { sel.value = ''; });
    // withHeadersAndQuery adds the form's header and query lines to req.
    function withHeadersAndQuery(req) {
      var h = lines($('pg-headers').value, ':');
      if (Object.keys(h).length) { req.headers = h; }
      var q = lines($('pg-query').value, '=');
      if (Object.keys(q).length) { req.query = q; }
      return req;
    }
    // postJSON posts req with the session's CSRF token; it gives {ok, j}.
    function postJSON(url, req) {
      return fetch(url, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
        body: JSON.stringify(req)
      }).then(function (r) {
        return r.json().then(function (j) { return { ok: r.ok, j: j }; });
      });
    }
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var req = withHeadersAndQuery({});
      if (sel.value) { req.delivery = sel.value; } else { req.payload = payload.value; }
      if ($('pg-event').value) { req.event = $('pg-event').value; }
      if (kind.value === 'trigger') { req.trigger = $('pg-trigger').value; } else { req[kind.value] = $('pg-expr').value; }
      var verdict = $('pg-verdict');
      var result = $('pg-result');
      verdict.textContent = 'evaluating…';
      verdict.className = '';
      postJSON('/api/extract', req).then(function (a) {
        if (!a.ok) {
          verdict.textContent = 'Error: ' + (a.j.error || 'request failed');
          verdict.className = 'verdict-no';
          result.textContent = '';
          return;
        }
        if (a.j.filter) {
          verdict.textContent = a.j.filter.matched ? 'Matched: the trigger would fire.' : 'Not matched: ' + (a.j.filter.reason || '');
          verdict.className = a.j.filter.matched ? 'verdict-yes' : 'verdict-no';
        } else {
          verdict.textContent = (a.j.nodes ? a.j.nodes.length : 0) + ' node(s)';
        }
        result.textContent = JSON.stringify(a.j, null, 2);
      }).catch(function (e) {
        verdict.textContent = 'Error: ' + e;
        verdict.className = 'verdict-no';
      });
    });
    // Run: POST /api/triggers/{name}/run, a delivery written by hand.
    $('pg-start').addEventListener('click', function () {
      var req = withHeadersAndQuery({ payload: payload.value });
      if ($('pg-event').value) { req.event = $('pg-event').value; }
      var verdict = $('pg-verdict');
      var result = $('pg-result');
      verdict.textContent = 'starting…';
      verdict.className = '';
      postJSON('/api/triggers/' + encodeURIComponent($('pg-trigger').value) + '/run', req).then(function (a) {
        verdict.textContent = '';
        result.textContent = JSON.stringify(a.j, null, 2);
        if (!a.ok) {
          verdict.textContent = 'Error: ' + (a.j.error || 'request failed');
          verdict.className = 'verdict-no';
          return;
        }
        var runs = a.j.runs || [];
        if (!runs.length) {
          var why = (a.j.skipped && a.j.skipped[0] && a.j.skipped[0].reason) || '';
          verdict.textContent = 'Not started: ' + why;
          verdict.className = 'verdict-no';
          return;
        }
        verdict.className = 'verdict-yes';
        verdict.appendChild(document.createTextNode('Started: '));
        runs.forEach(function (run, i) {
          var link = document.createElement('a');
          link.href = '/ui/runs/' + encodeURIComponent(run.id);
          link.textContent = run.id;
          if (i) { verdict.appendChild(document.createTextNode(', ')); }
          verdict.appendChild(link);
        });
      }).catch(function (e) {
        verdict.textContent = 'Error: ' + e;
        verdict.className = 'verdict-no';
      });
    });
  }

  live();
  runLog();
  playground();
}());
