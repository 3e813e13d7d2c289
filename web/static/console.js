// The authority console's only script: small enhancements over plain forms.
// Every page works without it.
(function () {
  "use strict";

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // postForm sends fields as a form to a console endpoint and resolves with its JSON answer.
  function postForm(url, fields) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (k) { body.append(k, fields[k]); });
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      body: body
    }).then(function (r) { return r.json(); });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); });
  }

  function text(el, s) { if (el) { el.textContent = s; } }

  // The bind password: hidden behind an explicit Edit button.
  document.querySelectorAll("[data-edit-password]").forEach(function (btn) {
    btn.addEventListener("click", function (ev) {
      var box = document.getElementById(btn.getAttribute("data-edit-password"));
      if (!box) { return; }
      ev.preventDefault();
      box.hidden = false;
      box.querySelectorAll("input").forEach(function (i) { i.disabled = false; });
      btn.hidden = true;
      var pw = box.querySelector("input[type=password]");
      if (pw) { pw.focus(); }
    });
  });

  // Script editors: compile while typing and show "line L, column C: message".
  document.querySelectorAll("textarea[data-compile]").forEach(function (ta) {
    var out = document.getElementById(ta.id + "-status");
    var timer = null, seq = 0;
    function check() {
      var mine = ++seq;
      postForm(ta.getAttribute("data-compile"), { field: ta.name, source: ta.value }).then(function (res) {
        if (mine !== seq || !out) { return; }
        out.className = "script-status " + (res.ok ? "ok" : "bad");
        out.textContent = res.message || res.error || "";
      }).catch(function () { /* the form still checks on save */ });
    }
    ta.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 400);
    });
  });

  // "Try on this entry": run the script being edited on one directory entry.
  document.querySelectorAll("[data-try]").forEach(function (btn) {
    btn.addEventListener("click", function (ev) {
      ev.preventDefault();
      var ta = document.getElementById(btn.getAttribute("data-try"));
      var who = document.getElementById(btn.getAttribute("data-try") + "-username");
      var out = document.getElementById(btn.getAttribute("data-try") + "-try");
      text(out, "Running…");
      postForm(btn.getAttribute("data-try-url"), { field: ta.name, source: ta.value, username: who ? who.value : "" })
        .then(function (res) {
          out.className = "try-result " + (res.ok ? "" : "err");
          out.textContent = res.message || res.error || "";
        })
        .catch(function () { text(out, "The server did not answer."); });
    });
  });

  // Reachable / bindable / matches: of the saved server when the page
  // opens, of the form's unsaved settings on "Test these settings".
  document.querySelectorAll("[data-test-url]").forEach(function (box) {
    var summary = document.getElementById("test-settings-result");
    function set(name, state, yes, no) {
      var el = box.querySelector('[data-indicator="' + name + '"]');
      if (!el) { return; }
      el.className = "indicator " + (state ? "yes" : "no");
      el.textContent = state ? yes : no;
    }
    function run(fields, label) {
      text(box.querySelector("[data-test-state]"), "Testing…");
      if (label) { text(summary, "Testing…"); }
      postForm(box.getAttribute("data-test-url"), fields).then(function (res) {
        set("reachable", res.reachable, "LDAP is reachable", "LDAP is not reachable");
        set("bindable", res.bindable, "Bind succeeded", "Bind failed");
        var m = box.querySelector('[data-indicator="matches"]');
        var matches = res.bindable ? res.matches + (res.matches === 1 ? " match" : " matches") : "matches: —";
        if (m) { m.className = "indicator"; m.textContent = matches; }
        text(box.querySelector("[data-test-error]"), res.error || "");
        text(box.querySelector("[data-test-state]"), label);
        if (label) { text(summary, res.error ? res.error : (label + ": reachable, bind succeeded, " + matches + ".")); }
      }).catch(function () {
        text(box.querySelector("[data-test-state]"), "The test did not finish.");
        text(summary, "");
      });
    }
    var again = box.querySelector("[data-test-again]");
    if (again) { again.addEventListener("click", function (ev) { ev.preventDefault(); run({}, "Saved settings"); }); }
    var btn = document.querySelector("[data-test-form]");
    if (btn && btn.form) {
      btn.addEventListener("click", function (ev) {
        ev.preventDefault();
        var fields = {};
        new FormData(btn.form).forEach(function (v, k) { if (k !== "action") { fields[k] = v; } });
        fields.draft = "1";
        run(fields, "Unsaved settings");
      });
    }
    if (box.hasAttribute("data-test-auto")) { run({}, ""); }
  });

  // A running sync: poll its status and show the progress; reload when it ends.
  document.querySelectorAll("[data-sync-poll]").forEach(function (box) {
    var url = box.getAttribute("data-sync-poll");
    function poll() {
      getJSON(url).then(function (st) {
        if (st.running) {
          text(box.querySelector("[data-sync-progress]"), st.progress || "Running…");
          setTimeout(poll, 1000);
        } else {
          window.location.reload();
        }
      }).catch(function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 700);
  });
})();
