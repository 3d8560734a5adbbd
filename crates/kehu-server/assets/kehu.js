// Kehu (客户) web pages: progressive enhancement only; every page works without this file.
// - The new-customer form warns about possible duplicates while typing.
// - Forms show that they are being sent and are not sent twice.
(function () {
  "use strict";

  function digitsOf(s) {
    var d = s.replace(/\D+/g, "");
    // A Chinese number written with its country code: search the national part.
    if (d.length === 13 && d.indexOf("86") === 0) d = d.slice(2);
    if (d.length > 13 && d.indexOf("0086") === 0) d = d.slice(4);
    return d;
  }

  function phoneLines(text) {
    return text
      .split(/[\n,，;；、]+/)
      .map(function (s) { return s.trim(); })
      .filter(function (s) { return s.length > 0; });
  }

  function search(q) {
    var url = "/api/v1/customers?limit=5&q=" + encodeURIComponent(q);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (body) { return body.items || []; })
      .catch(function () { return []; });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function renderDups(box, items, form) {
    box.textContent = "";
    var seen = {};
    items.forEach(function (c) {
      if (seen[c.id]) return;
      seen[c.id] = true;
      var row = el("div", "live-dup");
      row.appendChild(el("span", null, form.dataset.maybeDup));
      var a = el("a", null, c.name);
      a.href = "/customers/" + encodeURIComponent(c.id);
      row.appendChild(a);
      var owner = c.owner_name ? c.owner_name : form.dataset.noOwner;
      var en = document.documentElement.lang === "en";
      row.appendChild(el("span", null, en ? "(" + owner + ")" : "（" + owner + "）"));
      box.appendChild(row);
    });
  }

  function setupDuplicateCheck(form) {
    var phones = form.querySelector("[name=phones]");
    var name = form.querySelector("[name=name]");
    var phoneBox = form.querySelector("[data-dups-for=phones]");
    var nameBox = form.querySelector("[data-dups-for=name]");
    if (!phones || !name || !phoneBox || !nameBox) return;
    var last = { phones: null, name: null };
    var seq = { phones: 0, name: 0 };

    // No "checking…" line: inserting one moved the submit button under the pointer between
    // mousedown and mouseup, and the click was lost. Checks run while typing (debounced), so by
    // the time the field is left the answer is usually already shown.
    function debounce(fn, ms) {
      var t = null;
      return function () {
        clearTimeout(t);
        t = setTimeout(fn, ms);
      };
    }

    function checkPhones() {
      var numbers = phoneLines(phones.value)
        .map(digitsOf)
        .filter(function (d) { return d.length >= 7; });
      var key = numbers.join(",");
      if (key === last.phones) return;
      last.phones = key;
      var mine = ++seq.phones;
      if (numbers.length === 0) {
        phoneBox.textContent = "";
        return;
      }
      Promise.all(numbers.slice(0, 10).map(search)).then(function (lists) {
        if (mine !== seq.phones) return;
        renderDups(phoneBox, [].concat.apply([], lists), form);
      });
    }

    function kind() {
      var k = form.querySelector("[name=kind]:checked");
      return k ? k.value : "person";
    }

    // Company names are a duplicate key on the server; person names are not (many people
    // share one), so only companies are looked up by name.
    function checkName() {
      var v = name.value.trim();
      var key = kind() === "company" && v.length >= 2 ? v : "";
      if (key === last.name) return;
      last.name = key;
      var mine = ++seq.name;
      if (!key) {
        nameBox.textContent = "";
        return;
      }
      search(key).then(function (items) {
        if (mine !== seq.name) return;
        renderDups(nameBox, items, form);
      });
    }

    phones.addEventListener("input", debounce(checkPhones, 400));
    name.addEventListener("input", debounce(checkName, 400));
    phones.addEventListener("change", checkPhones);
    phones.addEventListener("blur", checkPhones);
    name.addEventListener("change", checkName);
    name.addEventListener("blur", checkName);
    Array.prototype.forEach.call(form.querySelectorAll("[name=kind]"), function (r) {
      r.addEventListener("change", function () {
        last.name = null;
        checkName();
      });
    });
  }

  function setupSubmitOnce(form) {
    form.addEventListener("submit", function (ev) {
      if (form.dataset.sent === "1") {
        ev.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      Array.prototype.forEach.call(form.querySelectorAll("button[type=submit], button:not([type])"), function (b) {
        b.classList.add("is-busy");
        b.setAttribute("aria-busy", "true");
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-dup-check]"), setupDuplicateCheck);
    Array.prototype.forEach.call(document.querySelectorAll("form[method=post]"), setupSubmitOnce);
  });

  // A page restored from the back/forward cache must accept submits again.
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-sent]"), function (f) {
      delete f.dataset.sent;
      Array.prototype.forEach.call(f.querySelectorAll(".is-busy"), function (b) {
        b.classList.remove("is-busy");
        b.removeAttribute("aria-busy");
      });
    });
  });
})();
