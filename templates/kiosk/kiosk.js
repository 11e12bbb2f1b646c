/* The kiosk's page (medsec intake kiosk): checks answers as the patient types, in the page's
   language; shows the guardian's fields when a guardian signs; the finger-drawn signature goes
   into the hidden <form>.signature_drawn as a PNG data: URL. Served from /static (no inline script). */
(function () {
  'use strict';

  var form = document.getElementById('intake');
  if (!form) { return; }

  function m(key) {
    var name = 'm' + key.replace(/(^|_)([a-z])/g, function (_, __, c) { return c.toUpperCase(); });
    return form.dataset[name] || key;
  }

  function byName(name) { return form.querySelectorAll('[name="' + CSS.escape(name) + '"]'); }
  function wrapper(el) { return el.closest('[data-field]'); }

  function age(dob, day) {
    var b = dob.split('-').map(Number), d = day.split('-').map(Number);
    var years = d[0] - b[0];
    if (d[1] < b[1] || (d[1] === b[1] && d[2] < b[2])) { years -= 1; }
    return years;
  }

  function isMinor(el) {
    var dobInput = form.querySelector('input[autocomplete="bday"]');
    var dob = (dobInput && dobInput.value) || form.dataset.dob || '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(dob)) { return false; }
    var block = el.closest('.signature-block');
    var dated = block && block.querySelector('input[type="date"]');
    var day = (dated && dated.value) || form.dataset.today;
    return age(dob, day) < 18;
  }

  // A check the browser does not make itself: '' when the answer passes.
  function custom(el) {
    var value = (el.value || '').trim();
    if (el.dataset.check === 'phone' && value) {
      var digits = value.replace(/\D/g, '');
      if (digits.length < 10 || digits.length > 15) { return m('phone'); }
    }
    if (el.hasAttribute('data-signer') && el.checked && el.value === 'patient' && isMinor(el)) {
      return m('minor');
    }
    return '';
  }

  // The words for what the browser found wrong.
  function builtin(el) {
    var v = el.validity;
    if (v.valueMissing) {
      if (el.type === 'checkbox') { return m('tick'); }
      if (el.classList.contains('typed-signature')) { return m('sign'); }
      return m('required');
    }
    if (v.typeMismatch) { return el.type === 'email' ? m('email') : m('date'); }
    if (v.patternMismatch) { return m(el.dataset.check || 'required'); }
    if (v.tooLong) { return m('too_long'); }
    if (v.rangeOverflow) { return m('future'); }
    if (v.badInput) { return m('date'); }
    return '';
  }

  function show(name, message) {
    var problem = document.getElementById(name + '-problem');
    if (problem) { problem.textContent = message; }
    byName(name).forEach(function (el) {
      if (el.type === 'radio') { return; }
      if (message) { el.setAttribute('aria-invalid', 'true'); } else { el.removeAttribute('aria-invalid'); }
    });
    var box = byName(name)[0];
    var w = box && wrapper(box);
    if (w) { w.classList.toggle('invalid', !!message); }
  }

  // Check one field (a group of radios as a whole); show the message when asked to.
  function check(el, visible) {
    if (!el.name || el.type === 'hidden' || el.type === 'submit') { return true; }
    var group = el.type === 'radio' ? Array.prototype.slice.call(byName(el.name)) : [el];
    var message = '';
    group.forEach(function (one) {
      one.setCustomValidity(custom(one));
      if (!message && !one.validity.valid) { message = one.validity.customError ? custom(one) : builtin(one); }
    });
    if (visible) { show(el.name, message); }
    return !message;
  }

  function summarize() {
    var summary = document.getElementById('summary');
    if (!summary) { return; }
    var list = summary.querySelector('ul');
    list.textContent = '';
    var seen = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || seen[el.name] || !el.willValidate || el.validity.valid) { return; }
      seen[el.name] = true;
      var w = wrapper(el);
      var item = document.createElement('li');
      var link = document.createElement('a');
      link.href = '#' + el.id;
      link.textContent = (w && w.dataset.label) || el.name;
      item.appendChild(link);
      item.appendChild(document.createTextNode(': ' + (custom(el) || builtin(el))));
      list.appendChild(item);
    });
    summary.hidden = list.children.length === 0;
  }

  var pending = null;
  form.addEventListener('invalid', function (event) {
    check(event.target, true);
    if (pending === null) {
      pending = window.setTimeout(function () { pending = null; summarize(); }, 0);
    }
  }, true);

  function touched(event) {
    var el = event.target;
    if (el.hasAttribute('data-signer')) { guardian(el); }
    check(el, true);
    if (el.type === 'date') {  // the date signed decides whether the patient is a minor
      form.querySelectorAll('[data-signer]').forEach(function (r) { check(r, true); });
    }
    var summary = document.getElementById('summary');
    if (summary && !summary.hidden) { summarize(); }
  }
  form.addEventListener('input', touched);
  form.addEventListener('change', touched);
  form.addEventListener('focusout', function (event) {
    if (event.target.value) { check(event.target, true); }
  });

  // The guardian's name and relationship: shown, and required, when a guardian signs.
  function guardian(radio) {
    var block = radio.closest('.signature-block');
    var box = block && block.querySelector('.guardian');
    if (!box) { return; }
    var chosen = block.querySelector('[data-signer]:checked');
    var on = !!chosen && chosen.value === 'guardian';
    box.hidden = !on;
    box.querySelectorAll('input').forEach(function (input) {
      input.required = on;
      if (!on) { show(input.name, ''); }
    });
  }

  // The signature pads: pointer events (finger, pen or mouse); the PNG goes into the hidden input.
  function pad(canvas) {
    var hidden = document.getElementById(canvas.dataset.input);
    var typed = document.getElementById(canvas.dataset.typed);
    var ctx = canvas.getContext('2d');
    var drawing = false;
    ctx.lineWidth = 4;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.strokeStyle = '#111';

    function at(event) {
      var rect = canvas.getBoundingClientRect();
      return [(event.clientX - rect.left) * canvas.width / rect.width,
              (event.clientY - rect.top) * canvas.height / rect.height];
    }
    function signed(on) {
      hidden.value = on ? canvas.toDataURL('image/png') : '';
      if (typed) {
        typed.required = !on;
        check(typed, !!typed.value || on);
      }
      show(hidden.name, '');
    }
    canvas.addEventListener('pointerdown', function (event) {
      event.preventDefault();
      drawing = true;
      if (canvas.setPointerCapture) { canvas.setPointerCapture(event.pointerId); }
      var p = at(event);
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
      ctx.lineTo(p[0] + 0.1, p[1] + 0.1);
      ctx.stroke();
    });
    canvas.addEventListener('pointermove', function (event) {
      if (!drawing) { return; }
      var p = at(event);
      ctx.lineTo(p[0], p[1]);
      ctx.stroke();
    });
    function end() {
      if (!drawing) { return; }
      drawing = false;
      signed(true);
    }
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    canvas.addEventListener('pointerleave', end);

    if (hidden.value && /^data:image\/png;base64,/.test(hidden.value)) {  // sent back with a problem: shown again
      var image = new Image();
      image.onload = function () { ctx.drawImage(image, 0, 0, canvas.width, canvas.height); };
      image.src = hidden.value;
    }
    var clear = form.querySelector('[data-clear="' + CSS.escape(canvas.id) + '"]');
    if (clear) {
      clear.addEventListener('click', function () {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        signed(false);
      });
    }
  }
  form.querySelectorAll('canvas.signature-pad').forEach(pad);
  form.querySelectorAll('[data-signer]:checked').forEach(guardian);
  // A minor's page: the patient cannot sign for herself, said before anything is typed.
  form.querySelectorAll('[data-signer]').forEach(function (r) { check(r, false); });

  form.addEventListener('submit', function (event) {
    var ok = true;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!check(el, true)) { ok = false; }
    });
    if (!ok) {  // (the browser checks first; this catches what it let through)
      event.preventDefault();
      summarize();
      document.getElementById('summary').focus();
    }
  });

  // Problems the server found: the summary gets the focus so the patient sees them first.
  var summary = document.getElementById('summary');
  if (summary && !summary.hidden) { summary.focus(); }
})();
