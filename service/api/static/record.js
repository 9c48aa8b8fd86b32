/* The nurse's record forms (day page): each is sent in the background with its CSRF token and
   the sign-in cookie. Saved: the stop says so. Refused: the reasons, in Chinese and English,
   and the form keeps what she typed to correct it. Not sent (no connection, a server error):
   it says so, keeps the values in the form and on this phone (localStorage, no name in it),
   and offers a retry (also tried again when the phone is back online). Text only: every value
   is put in with textContent.
   A record she may still correct (更正, her own, on the visit's day) has a second form, posted
   to its own address (data-correct) the same way; a record just saved turns its form into that
   correction, so a wrong tap is put right without reloading. */
(function () {
  "use strict";
  var PREFIX = "hv-unsent:";
  var FIELDS = ["outcome", "systolic_mmhg", "diastolic_mmhg", "glucose_mmol_l", "place", "note",
    "reason"];
  var NOT_SENT = "未能保存：网络不通或服务器出错。填写的内容已留在本机，请点“重试”。\n" +
    "Not saved: no connection or a server error. What you typed is kept on this phone: tap Retry.";
  var SIGN_IN = "填写的内容已留在本机：重新登录后回到此页点“重试”。\n" +
    "What you typed is kept on this phone: sign in again, come back here and tap Retry.";
  var KEPT = "有一条未发送的记录，已恢复填写的内容，请点“重试”。\n" +
    "An entry was not sent; what you typed is filled in again: tap Retry.";

  function CHECKED(name, form) {
    var box = form.querySelector("input[name=" + name + "]");
    return Boolean(box && box.checked);
  }

  function key(form) { return PREFIX + form.getAttribute("data-key"); }

  function say(form, kind, text) {
    var line = form.querySelector(".hv-save-status");
    line.className = "hv-save-status " + kind;
    line.textContent = text;
  }

  function values(form) {
    var data = {};
    FIELDS.forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field) { data[name] = field.value; }
    });
    data.discharge_sickbed = CHECKED("discharge_sickbed", form);
    data.tests = Array.prototype.filter.call(
      form.querySelectorAll("input[name=tests]"), function (box) { return box.checked; }
    ).map(function (box) { return box.value; });
    return data;
  }

  function restore(form, data) {
    FIELDS.forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field && typeof data[name] === "string") { field.value = data[name]; }
    });
    var box = form.querySelector("input[name=discharge_sickbed]");
    if (box) { box.checked = data.discharge_sickbed === true; }
    if (Array.isArray(data.tests)) {
      form.querySelectorAll("input[name=tests]").forEach(function (box) {
        box.checked = data.tests.indexOf(box.value) >= 0;
      });
    }
  }

  function keep(form) {
    try { localStorage.setItem(key(form), JSON.stringify(values(form))); } catch (e) { /* full */ }
  }

  function forget(form) {
    try { localStorage.removeItem(key(form)); } catch (e) { /* unavailable */ }
  }

  function kept(form) {
    try { return JSON.parse(localStorage.getItem(key(form)) || "null"); } catch (e) { return null; }
  }

  function retry(form, show) {
    var button = form.querySelector("button.hv-retry");
    if (!button && show) {
      button = document.createElement("button");
      button.type = "button";
      button.className = "hv-retry";
      button.textContent = "重试 Retry";
      button.addEventListener("click", function () { send(form); });
      form.querySelector("button[type=submit]").after(button);
    }
    if (button) { button.hidden = !show; }
  }

  function words(zh, en) {
    var span = document.createElement("span");
    span.className = "en";
    span.textContent = en;
    var out = document.createDocumentFragment();
    out.append(zh + " ", span);
    return out;
  }

  function asCorrection(box, form) {
    // The record is stored: the same form, with what she typed, now corrects it.
    box.classList.add("hv-correct-box");
    box.open = false;
    box.querySelector("summary").replaceChildren(words("更正", "Correct"));
    form.action = form.getAttribute("data-correct");
    form.setAttribute("data-key", form.getAttribute("data-key") + "/correct");
    var discharge = form.querySelector("input[name=discharge_sickbed]");
    if (discharge) { discharge.closest("fieldset").remove(); }
    form.querySelector("button[type=submit]").replaceChildren(
      words("保存更正", "Save the correction"));
  }

  function saved(form, answer) {
    forget(form);
    retry(form, false);
    var line = document.createElement("div");
    line.className = "hv-recorded";
    line.setAttribute("role", "status");
    var box = form.closest("details");
    var correcting = Boolean(box && box.classList.contains("hv-correct-box"));
    var lead = correcting
      ? (answer.already ? "未改动 Unchanged · " : "已更正 Corrected ✓ · ")
      : (answer.already ? "此前已记录 Recorded before · " : "已保存 Saved ✓ · ");
    line.textContent = lead + (answer.summary || "");
    if (correcting) {  // the stored record's line says what it says now
      var before = box.previousElementSibling;
      if (before && before.classList.contains("hv-recorded")) { before.replaceWith(line); }
      else { box.before(line); }
      box.open = false;
      var reason = form.elements.namedItem("reason");
      if (reason) { reason.value = ""; }
      say(form, "", "");
    } else if (box && form.getAttribute("data-correct") && !answer.already) {
      box.before(line);
      asCorrection(box, form);
      say(form, "", "");
    } else {
      (box || form).replaceWith(line);
    }
  }

  function notSent(form) {
    keep(form);
    retry(form, true);
    say(form, "hv-failed", NOT_SENT);
  }

  function reasons(answer, code) {
    var list = Array.isArray(answer.errors) && answer.errors.length ? answer.errors
      : Array.isArray(answer.detail) ? answer.detail : [answer.detail || "HTTP " + code];
    return list.map(function (item) {
      return typeof item === "string" ? item : (item && (item.reason || item.msg)) || String(item);
    });
  }

  function send(form) {
    if (form.getAttribute("data-sending")) { return; }
    form.setAttribute("data-sending", "1");
    say(form, "hv-pending", "保存中… Saving…");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (response.ok) {
          saved(form, answer);
        } else if (response.status >= 500) {
          notSent(form);
        } else if (response.status === 401 || response.status === 403) {
          keep(form);  // signed out meanwhile: kept for after signing in again
          retry(form, true);
          say(form, "hv-failed", "未保存 Not saved:\n" + reasons(answer, response.status).join("\n") +
            "\n" + SIGN_IN);
        } else {  // refused: nothing to retry as it is; the values stay to be corrected
          forget(form);
          retry(form, false);
          say(form, "hv-failed", "未保存 Not saved:\n" + reasons(answer, response.status).join("\n"));
        }
      });
    }, function () {
      notSent(form);
    }).then(function () {
      form.removeAttribute("data-sending");
    });
  }

  var forms = document.querySelectorAll("form.hv-record");
  forms.forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(form);
    });
    var entry = kept(form);
    if (entry) {
      if (form.parentElement.tagName === "DETAILS") { form.parentElement.open = true; }
      restore(form, entry);
      retry(form, true);
      say(form, "hv-failed", KEPT);
    }
  });
  window.addEventListener("online", function () {
    document.querySelectorAll("form.hv-record").forEach(function (form) {
      if (kept(form)) { send(form); }
    });
  });
}());
