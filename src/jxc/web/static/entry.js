/* JXC document entry grid: keyboard and barcode-scanner first, no framework.

   - A product (or partner, account, invoice) cell resolves on Enter: an exact code or
     barcode fills at once (what a scanner sends, followed by Enter); otherwise a .suggest
     list opens, navigated with the arrows and Enter, closed with Esc.
   - Enter moves through the row's cells (product -> quantity -> price) and on to the next
     line's product; a new empty line is always kept at the end. Tab does the same at a
     row's last cell.
   - Amounts and totals come from the server (POST /docs/{kind}/preview, debounced), which
     rounds them as the document will: this file never does arithmetic on money.
   - FEFO: on deliveries, a batch-tracked product's quantity offers the batches expiring
     first (GET /ui/fefo); Enter accepts and splits the line across batches.
   - Ctrl+S / Alt+S saves a draft, Ctrl+Enter saves and audits, Delete or Ctrl+Backspace on
     an empty line removes it. */
(function () {
  "use strict";

  var form = document.getElementById("entry-form");
  if (!form) return;
  var grid = document.getElementById("entry-grid");
  var tbody = grid.tBodies[0];
  var template = document.getElementById("line-template");
  var msgs = JSON.parse(document.getElementById("entry-msgs").textContent || "{}");
  var family = form.dataset.family;
  var csrf = (form.querySelector("input[name=csrf_token]") || {}).value || "";
  var saveBtn = document.getElementById("btn-save");
  var auditBtn = document.getElementById("btn-audit");
  var NAME = /^(lines|settle)\[[^\]]*\]\.([a-z_]+)$/;
  var LOOKUP = {
    products: "/ui/lookup/products", partners: "/ui/lookup/partners",
    accounts: "/ui/lookup/accounts", invoices: "/ui/lookup/invoices"
  };

  // --- rows ------------------------------------------------------------------------

  function rows() { return Array.prototype.slice.call(tbody.querySelectorAll("tr.line")); }
  function colOf(el) { var m = NAME.exec(el.name || ""); return m ? m[2] : ""; }
  function cell(tr, name) { return tr.querySelector("[name$='." + name + "']"); }
  function calcCell(tr, name) { return tr.querySelector("td[data-calc='" + name + "']"); }

  function renumber() {
    rows().forEach(function (tr, n) {
      var i = String(n + 1);
      tr.dataset.row = i;
      tr.querySelector("td.seq").textContent = i;
      tr.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(/^(lines|settle)\[[^\]]*\]/, "$1[" + i + "]");
      });
    });
  }

  function newRow(after) {
    var holder = document.createElement("tbody");
    holder.innerHTML = template.innerHTML;
    var tr = holder.querySelector("tr");
    if (after) tbody.insertBefore(tr, after.nextElementSibling); else tbody.appendChild(tr);
    renumber();
    tr.classList.add("added");
    return tr;
  }

  function blank(tr) {
    return Array.prototype.every.call(tr.querySelectorAll("input"), function (el) { return !el.value.trim(); });
  }

  function ensureTrailingRow() {
    var list = rows();
    if (!list.length || !blank(list[list.length - 1])) newRow();
  }

  function removeRow(tr) {
    var list = rows();
    var prev = tr.previousElementSibling;
    if (list.length <= 1) {
      tr.querySelectorAll("input").forEach(function (el) { el.value = ""; });
      return tr;
    }
    tr.remove();
    renumber();
    ensureTrailingRow();
    schedulePreview();
    return prev || rows()[0];
  }

  // Which inputs Enter and Tab visit in a row: not the read-only ones nor those taken
  // out of the tab order (the VAT rate, batch cells of products without batches).
  function chain(scope) {
    return Array.prototype.filter.call(scope.querySelectorAll("input, select"), function (el) {
      return el.type !== "hidden" && !el.readOnly && !el.disabled && el.tabIndex !== -1 && !el.closest("td.off");
    });
  }

  function headInputs() {
    var head = form.querySelector(".head-grid");
    return head ? chain(head) : [];
  }

  function focusCell(el) {
    if (!el) return;
    el.focus();
    if (el.select && el.type !== "date" && el.type !== "checkbox") el.select();
  }

  function firstCell(tr) { return chain(tr)[0]; }

  function nextRow(tr) {
    var next = tr.nextElementSibling;
    if (!next) next = newRow();
    focusCell(firstCell(next));
  }

  function advance(el) {
    var tr = el.closest("tr.line");
    if (!tr) {
      var head = headInputs();
      var k = head.indexOf(el);
      if (k >= 0 && k < head.length - 1) focusCell(head[k + 1]);
      else focusCell(firstCell(rows()[0]));
      return;
    }
    var list = chain(tr);
    var at = list.indexOf(el);
    // A voucher line carries either a debit or a credit: a debit entered skips the credit.
    if (colOf(el) === "debit" && el.value.trim()) at = list.length - 1;
    if (at >= 0 && at < list.length - 1) focusCell(list[at + 1]);
    else if (!blank(tr)) nextRow(colOf(el) === "price" ? splitRows(tr).pop() : tr);
  }

  // --- messages in cells ------------------------------------------------------------

  function clearError(el) {
    var td = el.closest("td, .field");
    if (!td) return;
    td.classList.remove("invalid");
    var e = td.querySelector(".cell-error, .error.js");
    if (e) e.remove();
  }

  function markError(el, text) {
    var td = el.closest("td");
    if (!td) return;
    clearError(el);
    td.classList.add("invalid");
    var span = document.createElement("span");
    span.className = "cell-error";
    span.setAttribute("role", "alert");
    span.textContent = text;
    td.appendChild(span);
  }

  // --- suggestion lists ---------------------------------------------------------------

  function listOf(el) {
    var box = el.closest("td, .lookup-box");
    return box ? box.querySelector("ul.suggest") : null;
  }

  function openList(el) {
    var ul = listOf(el);
    return ul && !ul.hidden ? ul : null;
  }

  function closeList(el) {
    var ul = listOf(el);
    if (ul) { ul.hidden = true; ul.innerHTML = ""; ul._items = null; }
    el.removeAttribute("aria-expanded");
  }

  function closeAll(except) {
    form.querySelectorAll("ul.suggest").forEach(function (ul) {
      if (ul !== except && !ul.hidden) { ul.hidden = true; ul.innerHTML = ""; ul._items = null; }
    });
  }

  function li(parts, cls) {
    var item = document.createElement("li");
    if (cls) item.className = cls;
    parts.forEach(function (p) {
      var span = document.createElement("span");
      span.className = p[0];
      span.textContent = p[1];
      item.appendChild(span);
    });
    return item;
  }

  function showList(el, items, onPick, head, tail) {
    var ul = listOf(el);
    if (!ul) return;
    closeAll(ul);
    ul.innerHTML = "";
    if (head) ul.appendChild(li([["", head]], "head"));
    items.forEach(function (it, n) {
      var row = li(it.parts);
      row.setAttribute("role", "option");
      row.dataset.index = String(n);
      if (n === 0) { row.classList.add("active"); row.setAttribute("aria-selected", "true"); }
      ul.appendChild(row);
    });
    if (tail) ul.appendChild(li([["", tail]], "warn"));
    ul._items = items;
    ul._active = items.length ? 0 : -1;
    ul._pick = onPick;
    ul.hidden = false;
    el.setAttribute("aria-expanded", "true");
  }

  function moveActive(ul, step) {
    var options = ul.querySelectorAll("li[data-index]");
    if (!options.length) return;
    ul._active = (ul._active + step + options.length) % options.length;
    options.forEach(function (o, n) {
      o.classList.toggle("active", n === ul._active);
      o.setAttribute("aria-selected", n === ul._active ? "true" : "false");
      if (n === ul._active) o.scrollIntoView({ block: "nearest" });
    });
  }

  function pickActive(el) {
    var ul = openList(el);
    if (!ul || !ul._items || ul._active < 0) return false;
    var it = ul._items[ul._active];
    var pick = ul._pick;
    closeList(el);
    pick(it);
    return true;
  }

  form.addEventListener("mousedown", function (e) {
    var option = e.target.closest("ul.suggest li[data-index]");
    if (!option) return;
    e.preventDefault();  // keep the focus in the cell
    var ul = option.parentElement;
    ul._active = Number(option.dataset.index);
    var input = ul.parentElement.querySelector("input");
    if (pickActive(input)) advance(input);
  });

  // --- look-ups -----------------------------------------------------------------------

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .catch(function () { return { items: [] }; });
  }

  function headValue(name) {
    var el = form.querySelector(".head-grid [name='" + name + "']");
    return el ? el.value.trim() : "";
  }

  function lookup(el, q) {
    var kind = el.dataset.lookup;
    var params = new URLSearchParams({ q: q });
    if (el.dataset.kind) params.set("kind", el.dataset.kind);
    if (el.dataset.cash) params.set("cash", "1");
    if (kind === "invoices") {
      params.set("side", form.dataset.side);
      params.set("partner", headValue("partner"));
    }
    el._seq = (el._seq || 0) + 1;
    var seq = el._seq;
    return getJSON(LOOKUP[kind] + "?" + params.toString()).then(function (data) {
      return seq === el._seq ? data.items || [] : null;  // null: a newer look-up has started
    });
  }

  function entryOf(kind, it) {
    if (kind === "products") {
      return [["code", it.code], ["", it.name + (it.spec ? " " + it.spec : "")], ["meta", it.barcode || it.unit]];
    }
    return [["code", it.code], ["", it.name], ["meta", it.meta || ""]];
  }

  function setText(td, text) { if (td) td.textContent = text || ""; }

  function applyProduct(tr, p) {
    var name = calcCell(tr, "name");
    if (name) {
      name.textContent = "";
      var strong = document.createElement("span");
      strong.className = "pname";
      strong.textContent = p.name;
      name.appendChild(strong);
      if (p.spec) {
        var spec = document.createElement("span");
        spec.className = "muted";
        spec.textContent = " " + p.spec;
        name.appendChild(spec);
      }
    }
    setText(calcCell(tr, "unit"), p.unit);
    var rate = cell(tr, "tax_rate");
    if (rate && p.tax_rate !== undefined) {
      if (!Array.prototype.some.call(rate.options, function (o) { return o.value === p.tax_rate; })) {
        rate.add(new Option(p.tax_rate, p.tax_rate));
      }
      rate.value = p.tax_rate;
    }
    tr.classList.toggle("batch", !!p.batch);
    ["batch", "expiry"].forEach(function (n) {
      var el = cell(tr, n);
      if (!el) return;
      el.closest("td").classList.toggle("off", !p.batch);
      el.readOnly = !p.batch;
      el.tabIndex = p.batch ? 0 : -1;
      if (!p.batch) el.value = "";
    });
    tr.dataset.batch = p.batch ? "1" : "";
  }

  function picked(el, it) {
    var kind = el.dataset.lookup;
    el.value = it.code;
    el._resolved = it.code;
    el._seq = (el._seq || 0) + 1;
    clearError(el);
    var tr = el.closest("tr.line");
    if (kind === "products" && tr) applyProduct(tr, it);
    if (kind === "accounts" && tr) setText(calcCell(tr, "account_name"), it.name);
    if (kind === "invoices" && tr) {
      setText(calcCell(tr, "inv_date"), it.inv_date);
      setText(calcCell(tr, "inv_total"), it.inv_total);
      setText(calcCell(tr, "open"), it.open);
      var amount = cell(tr, "amount");
      if (amount && !amount.value.trim()) amount.value = it.amount;  // the open amount, as the server wrote it
    }
    if (!tr) {
      var hint = el.closest(".field").querySelector(".lookup-name");
      if (hint) hint.textContent = it.name;
    }
    ensureTrailingRow();
    schedulePreview();
  }

  // Enter on a look-up cell: resolves to true when the cell holds a known code.
  function resolve(el) {
    if (openList(el) && pickActive(el)) return Promise.resolve(true);
    var q = el.value.trim();
    var kind = el.dataset.lookup;
    if (!q && kind !== "invoices") return Promise.resolve(kind !== "products");
    if (q && el._resolved === q) return Promise.resolve(true);
    if (kind === "invoices" && !headValue("partner")) {
      markError(el, msgs.pick_partner);
      return Promise.resolve(false);
    }
    return lookup(el, q).then(function (items) {
      if (items === null) return false;
      var exact = items.filter(function (it) { return it.exact; })[0];
      if (exact || (q && items.length === 1)) {
        picked(el, exact || items[0]);
        return true;
      }
      if (!items.length) {
        markError(el, kind === "invoices" ? msgs.no_open : msgs.not_found);
        return false;
      }
      showList(el, items.map(function (it) { return { parts: entryOf(kind, it), item: it }; }),
        function (entry) { picked(el, entry.item); });
      return false;
    });
  }

  // Suggestions while typing (names): shown, never picked, until Enter or a click.
  var typingTimer = null;
  function suggestWhileTyping(el) {
    clearTimeout(typingTimer);
    el._resolved = null;
    var q = el.value.trim();
    if (!q) { closeList(el); return; }
    typingTimer = setTimeout(function () {
      lookup(el, q).then(function (items) {
        if (items === null || document.activeElement !== el || el.value.trim() !== q) return;
        if (!items.length) { closeList(el); return; }
        var kind = el.dataset.lookup;
        showList(el, items.map(function (it) { return { parts: entryOf(kind, it), item: it }; }),
          function (entry) { picked(el, entry.item); });
      });
    }, 150);
  }

  // A code typed and left with Tab or a click: resolve it quietly when it is exact.
  function settle(el) {
    var q = el.value.trim();
    if (!q || el._resolved === q || el.dataset.lookup === "invoices") return;
    lookup(el, q).then(function (items) {
      if (!items || el.value.trim() !== q) return;
      var exact = items.filter(function (it) { return it.exact; })[0];
      if (exact) picked(el, exact);
    });
  }

  // --- FEFO -----------------------------------------------------------------------------

  function fefo(qtyInput) {
    var tr = qtyInput.closest("tr.line");
    var batch = cell(tr, "batch");
    var product = cell(tr, "product");
    if (!form.dataset.fefo || !tr.dataset.batch || !batch || !qtyInput.value.trim() || batch.value.trim()) {
      return Promise.resolve(false);
    }
    var params = new URLSearchParams({
      product: product.value.trim(), warehouse: headValue("warehouse"), qty: qtyInput.value.trim()
    });
    return getJSON("/ui/fefo?" + params.toString()).then(function (data) {
      var picks = data.picks || [];
      if (!picks.length) {
        markError(batch, msgs.fefo_none);
        return false;
      }
      var tail = data.short ? msgs.fefo_short.replace("{qty}", data.short) : null;
      var entry = {
        parts: [["code", picks.map(function (p) { return p.batch + " × " + p.qty; }).join("  ·  ")]],
        picks: picks
      };
      var details = picks.map(function (p) {
        return { parts: [["code", p.batch], ["qty", p.qty], ["meta", p.expiry ? msgs.expiry + " " + p.expiry : ""]],
                 picks: picks };
      });
      showList(qtyInput, picks.length > 1 ? [entry].concat(details) : details,
        function () { acceptFefo(tr, picks); }, msgs.fefo_head, tail);
      return true;
    });
  }

  var splitCount = 0;
  function acceptFefo(tr, picks) {
    var prev = tr;
    var group = String(++splitCount);
    tr.dataset.split = group;
    picks.forEach(function (p, n) {
      var target = tr;
      if (n > 0) {
        target = tr.cloneNode(true);
        target.classList.remove("added");
        target.querySelectorAll(".cell-error").forEach(function (e) { e.remove(); });
        target.querySelectorAll("td.invalid").forEach(function (td) { td.classList.remove("invalid"); });
        target.querySelectorAll("ul.suggest").forEach(function (ul) { ul.hidden = true; ul.innerHTML = ""; });
        tbody.insertBefore(target, prev.nextElementSibling);
        var rate = cell(tr, "tax_rate");
        if (rate) cell(target, "tax_rate").value = rate.value;
        target.classList.add("added");
      }
      cell(target, "batch").value = p.batch;
      cell(target, "qty").value = p.qty;
      prev = target;
    });
    renumber();
    ensureTrailingRow();
    schedulePreview();
    var price = cell(tr, "price");
    if (price) focusCell(price); else nextRow(prev);
  }

  // The lines one FEFO suggestion made share a price: typing it on one fills the others.
  function splitRows(tr) {
    return tr.dataset.split ? rows().filter(function (r) { return r.dataset.split === tr.dataset.split; }) : [tr];
  }

  // --- live amounts -------------------------------------------------------------------

  var previewTimer = null;
  var previewSeq = 0;
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 150);
  }

  function runPreview() {
    var seq = ++previewSeq;
    fetch(form.dataset.preview, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" }
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (!data || seq !== previewSeq) return;
      var list = rows();
      (data.lines || []).forEach(function (ln, n) {
        var tr = list[n];
        if (!tr) return;
        ["amount", "tax", "total", "inv_date", "inv_total", "open"].forEach(function (k) {
          if (k in ln) setText(calcCell(tr, k), ln[k]);
        });
        if (ln.account_name !== undefined) setText(calcCell(tr, "account_name"), ln.account_name);
        var rate = cell(tr, "tax_rate");
        if (rate && !rate.value && ln.tax_rate) {
          if (!Array.prototype.some.call(rate.options, function (o) { return o.value === ln.tax_rate; })) {
            rate.add(new Option(ln.tax_rate, ln.tax_rate));
          }
          rate.value = ln.tax_rate;
        }
      });
      var totals = data.totals || {};
      Object.keys(totals).forEach(function (k) {
        var el = document.querySelector("#entry-totals [data-total='" + k + "']");
        if (el && k !== "status") el.textContent = totals[k];
      });
      var box = document.getElementById("entry-totals");
      if (family === "voucher" && box) {
        box.dataset.fillDebit = totals.fill_debit || "";
        box.dataset.fillCredit = totals.fill_credit || "";
        var diff = box.querySelector("[data-total='difference']");
        if (diff) diff.className = totals.balanced ? "ok-text" : "warn-text";
        var status = box.querySelector("[data-total='status']");
        if (status) {
          status.innerHTML = "";
          var badge = document.createElement("span");
          badge.className = "badge " + (totals.balanced ? "audited" : "warn");
          badge.textContent = totals.balanced ? msgs.balanced : msgs.unbalanced;
          status.appendChild(badge);
        }
      }
      if (family === "cash_doc" && box) {
        var adv = box.querySelector("[data-total='advance']");
        if (adv) adv.className = totals.over ? "warn-text" : "";
      }
    }).catch(function () { /* the next keystroke tries again */ });
  }

  // --- keyboard -------------------------------------------------------------------------

  function submit(action) {
    var btn = action === "audit" && auditBtn ? auditBtn : saveBtn;
    if (!btn || form.dataset.sending) return;
    if (form.requestSubmit) form.requestSubmit(btn); else btn.click();
  }

  document.addEventListener("keydown", function (e) {
    var key = e.key;
    if (((e.ctrlKey || e.metaKey) && !e.altKey && (key === "s" || key === "S")) ||
        (e.altKey && !e.ctrlKey && (key === "s" || key === "S" || e.code === "KeyS"))) {
      e.preventDefault();
      submit("save");
      return;
    }
    if ((e.ctrlKey || e.metaKey) && key === "Enter") {
      e.preventDefault();
      submit("audit");
    }
  });

  form.addEventListener("keydown", function (e) {
    var el = e.target;
    if (!el.matches || !el.matches("input, select") || e.ctrlKey && e.key === "Enter") return;
    var ul = openList(el);
    var key = e.key;
    if (ul) {
      if (key === "ArrowDown" || key === "ArrowUp") {
        e.preventDefault();
        moveActive(ul, key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (key === "Escape") {
        e.preventDefault();
        closeList(el);
        return;
      }
      if (key === "Enter" || (key === "Tab" && !e.shiftKey && ul._items && ul._items.length)) {
        e.preventDefault();
        if (pickActive(el) && !ul.classList.contains("fefo")) advance(el);
        return;
      }
    }
    var tr = el.closest("tr.line");
    if (key === "Enter") {
      e.preventDefault();
      if (el.type === "checkbox") { advance(el); return; }
      if (el.dataset.lookup) {
        resolve(el).then(function (ok) { if (ok) advance(el); });
        return;
      }
      if (tr && colOf(el) === "qty") {
        fefo(el).then(function (offered) { if (!offered) advance(el); });
        return;
      }
      advance(el);
      return;
    }
    if (tr && (key === "Delete" || (key === "Backspace" && e.ctrlKey)) && !el.value && blank(tr)) {
      e.preventDefault();
      var landing = removeRow(tr);
      focusCell(firstCell(landing));
      return;
    }
    if (tr && key === "Tab" && !e.shiftKey) {
      var list = chain(tr);
      if (list.indexOf(el) === list.length - 1 && !blank(tr)) {
        e.preventDefault();
        if (el.dataset.lookup) settle(el);
        nextRow(tr);
      }
      return;
    }
    if (family === "voucher" && tr && key === "=" && (colOf(el) === "debit" || colOf(el) === "credit")) {
      e.preventDefault();
      var box = document.getElementById("entry-totals");
      var fill = colOf(el) === "debit" ? box.dataset.fillDebit : box.dataset.fillCredit;
      if (fill && fill !== "0" && fill !== "0.00") {
        el.value = fill;
        schedulePreview();
      }
    }
  });

  form.addEventListener("input", function (e) {
    var el = e.target;
    if (el.dataset && el.dataset.lookup) {
      clearError(el);
      suggestWhileTyping(el);
    } else if (el.closest && el.closest("td.invalid")) {
      clearError(el);
    }
    var line = el.closest && el.closest("tr.line");
    if (line && colOf(el) === "price" && line.dataset.split) {
      splitRows(line).forEach(function (r) { if (r !== line) cell(r, "price").value = el.value; });
    }
    if (line) ensureTrailingRow();
    schedulePreview();
  });

  form.addEventListener("change", function (e) {
    var el = e.target;
    if (el.id === "price-incl") {
      var label = el.checked ? msgs.price_incl : msgs.price;
      var th = grid.querySelector("th[data-price-head]");
      if (th) th.textContent = label;
      grid.querySelectorAll("td[data-col='price']").forEach(function (td) { td.dataset.label = label; });
    }
    if (el.dataset && el.dataset.lookup) settle(el);
    if (colOf(el) === "expiry") {
      var m = /^(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})$/.exec(el.value.trim());
      if (m) el.value = m[1] + "-" + ("0" + m[2]).slice(-2) + "-" + ("0" + m[3]).slice(-2);
    }
    schedulePreview();
  });

  form.addEventListener("focusout", function (e) {
    var el = e.target;
    if (el.dataset && el.dataset.lookup) {
      setTimeout(function () { if (document.activeElement !== el) closeList(el); }, 120);
    }
  });

  grid.addEventListener("click", function (e) {
    var btn = e.target.closest("button.remove");
    if (!btn) return;
    var landing = removeRow(btn.closest("tr.line"));
    focusCell(firstCell(landing));
  });

  document.getElementById("add-line").addEventListener("click", function () {
    var list = rows();
    var last = list[list.length - 1];
    focusCell(firstCell(last && blank(last) ? last : newRow()));
  });

  // --- saving -----------------------------------------------------------------------------

  form.addEventListener("submit", function (e) {
    if (form.dataset.sending) { e.preventDefault(); return; }
    form.dataset.sending = "1";
    var btn = e.submitter;
    setTimeout(function () {  // after the submitter's value has gone with the form
      [saveBtn, auditBtn].forEach(function (b) { if (b) b.setAttribute("aria-disabled", "true"); });
      if (btn) btn.dataset.label = btn.innerHTML;
      if (btn) btn.textContent = msgs.saving;
    }, 0);
  });

  window.addEventListener("pageshow", function () {
    delete form.dataset.sending;
    [saveBtn, auditBtn].forEach(function (b) {
      if (!b) return;
      b.removeAttribute("aria-disabled");
      if (b.dataset.label) b.innerHTML = b.dataset.label;
    });
  });

  // --- start ---------------------------------------------------------------------------------

  rows().forEach(function (tr) {
    var p = cell(tr, "product");
    if (p && p.value) p._resolved = p.value;
    if (tr.classList.contains("batch")) tr.dataset.batch = "1";
  });
  form.querySelectorAll("[data-lookup]").forEach(function (el) { if (el.value) el._resolved = el.value.trim(); });
  ensureTrailingRow();
  var firstBad = form.querySelector(".invalid input, .invalid select");
  var firstEmpty = headInputs().filter(function (el) {
    return !el.value && el.closest(".field.required, .field:has([required])");
  })[0];
  focusCell(firstBad || firstEmpty || firstCell(rows()[0]));
})();
