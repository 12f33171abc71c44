// Solve the booking form's proof of work (ALTCHA v1) in the browser, then submit the form.
// Same-origin, no dependencies, no inline code (the page's CSP forbids it).
(function () {
  "use strict";

  // SHA-256 for pages served without WebCrypto (plain HTTP on a local network).
  var K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ];

  function sha256Hex(text) {
    var bytes = new TextEncoder().encode(text);
    var length = bytes.length;
    var padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[length] = 0x80;
    var view = new DataView(padded.buffer);
    view.setUint32(padded.length - 4, length * 8);
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var w = new Array(64);
    for (var offset = 0; offset < padded.length; offset += 64) {
      for (var i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
      for (i = 16; i < 64; i++) {
        var a = w[i - 15], b = w[i - 2];
        var s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        var s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var x = h.slice();
      for (i = 0; i < 64; i++) {
        var e = x[4];
        var t1 = (x[7] + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & x[5]) ^ (~e & x[6])) + K[i] + w[i]) | 0;
        var f = x[0];
        var t2 = ((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) +
          ((f & x[1]) ^ (f & x[2]) ^ (x[1] & x[2]))) | 0;
        x = [(t1 + t2) | 0, x[0], x[1], x[2], (x[3] + t1) | 0, x[4], x[5], x[6]];
      }
      for (i = 0; i < 8; i++) h[i] = (h[i] + x[i]) | 0;
    }
    return h.map(function (v) { return ("00000000" + (v >>> 0).toString(16)).slice(-8); }).join("");
  }

  function toHex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  var BATCH = 200;

  async function solve(challenge) {
    var encoder = new TextEncoder();
    var subtle = window.crypto && window.crypto.subtle;
    for (var start = 0; start <= challenge.maxnumber; start += BATCH) {
      var end = Math.min(start + BATCH, challenge.maxnumber + 1);
      var digests = [];
      for (var n = start; n < end; n++) {
        var candidate = challenge.salt + n;
        // Hash a batch at once: awaiting WebCrypto one number at a time is slower.
        digests.push(subtle ? subtle.digest("SHA-256", encoder.encode(candidate)) : sha256Hex(candidate));
      }
      var done = await Promise.all(digests);
      for (var i = 0; i < done.length; i++) {
        var digest = typeof done[i] === "string" ? done[i] : toHex(done[i]);
        if (digest === challenge.challenge) return start + i;
      }
    }
    return null;
  }

  var status = document.getElementById("pow-status");

  function setBusy(busy, pressed) {
    document.querySelectorAll("form[data-pow] button").forEach(function (button) {
      button.disabled = busy;
      button.classList.toggle("working", busy && button.form === pressed);
    });
  }

  // Put the message right under the pressed button: on a phone the list of times is long,
  // and a message at its top would be off-screen while every button waits.
  function say(form, text) {
    var item = form.closest("li") || form;
    if (status.parentNode !== item) {
      document.querySelectorAll(".pressed").forEach(function (e) { e.classList.remove("pressed"); });
      item.classList.add("pressed");
      item.appendChild(status);
    }
    status.textContent = text;
    if (status.scrollIntoView) status.scrollIntoView({ block: "nearest" });
  }

  async function onSubmit(event) {
    var form = event.currentTarget;
    if (form.dataset.solved) return;
    event.preventDefault();
    setBusy(true, form);
    say(form, status.dataset.working);
    try {
      var answer = await fetch(form.dataset.challenge, {
        headers: { Accept: "application/json" }, credentials: "omit", cache: "no-store"
      });
      if (!answer.ok) throw new Error("challenge " + answer.status);
      var challenge = await answer.json();
      var number = await solve(challenge);
      if (number === null) throw new Error("unsolved");
      form.elements.altcha.value = btoa(JSON.stringify({
        algorithm: challenge.algorithm, challenge: challenge.challenge, number: number,
        salt: challenge.salt, signature: challenge.signature
      }));
      say(form, status.dataset.done);
      form.dataset.solved = "1";
      // The form posts to the stricter no-script route unless the check was solved here.
      form.action = form.dataset.action;
      form.submit();
    } catch (error) {
      say(form, status.dataset.failed);
      setBusy(false, form);
    }
  }

  document.querySelectorAll("form[data-pow]").forEach(function (form) {
    form.addEventListener("submit", onSubmit);
  });
})();
