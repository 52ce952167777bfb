// Progressive enhancement only: pages work without it.
(function () {
  document.querySelectorAll("button.copy").forEach(function (b) {
    b.addEventListener("click", function () {
      var text = b.getAttribute("data-copy");
      var done = function () { var old = b.textContent; b.textContent = b.getAttribute("data-done"); setTimeout(function () { b.textContent = old; }, 1500); };
      if (navigator.clipboard && navigator.clipboard.writeText) { navigator.clipboard.writeText(text).then(done, function () {}); }
      else { var r = document.createRange(); r.selectNodeContents(b.previousElementSibling); var s = getSelection(); s.removeAllRanges(); s.addRange(r); document.execCommand("copy"); done(); }
    });
  });
  // The total before buying follows the quantity (wholesale tiers applied),
  // from the figures the page was rendered with.
  var total = document.getElementById("order-total");
  var qtyInput = document.querySelector("form.checkout input[name=quantity]");
  if (total && qtyInput) {
    var pricing = JSON.parse(total.getAttribute("data-pricing") || "{}");
    var money = function (minor) {
      var per = pricing.per_major || 100, digits = String(per).length - 1;
      return digits ? (minor / per).toFixed(digits) : String(minor);
    };
    // What a coupon takes off, as the server computes it: never the whole amount.
    var discountOf = function (gross) {
      var c = pricing.coupon;
      if (!c) return 0;
      var off = c.kind === "percent" ? Math.floor(gross * Math.min(Math.max(c.value, 0), 100) / 100) : Math.max(c.value, 0);
      return Math.max(Math.min(off, gross - 1), 0);
    };
    var update = function () {
      var q = parseInt(qtyInput.value, 10);
      if (!(q >= 1)) return;
      var unit = pricing.base;
      (pricing.tiers || []).forEach(function (t) { if (q >= t[0]) unit = t[1]; });
      var off = discountOf(unit * q);
      total.querySelector(".total-amount").textContent = money(unit * q - off);
      total.querySelector(".total-unit").textContent = money(unit);
      total.querySelector(".total-qty").textContent = q;
      var d = total.querySelector(".total-discount");
      if (d) {
        d.hidden = off === 0;
        d.querySelector(".total-discount-amount").textContent = money(off);
      }
    };
    qtyInput.addEventListener("input", update);
    // A typed coupon is checked with the shop and, if it applies, counted in the total.
    var couponInput = document.querySelector("form.checkout input[name=coupon]");
    var note = document.getElementById("coupon-note");
    if (couponInput && couponInput.getAttribute("data-check-url")) {
      var check = function () {
        var code = couponInput.value.trim();
        if (!code) { pricing.coupon = null; if (note) note.textContent = ""; update(); return; }
        fetch(couponInput.getAttribute("data-check-url") + "?code=" + encodeURIComponent(code), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
          .then(function (res) {
            if (couponInput.value.trim() !== code) return;
            pricing.coupon = res.ok ? { kind: res.body.kind, value: res.body.value } : null;
            if (note) note.textContent = res.ok ? "" : ((res.body.error && res.body.error.message) || "");
            update();
          })
          .catch(function () {});
      };
      couponInput.addEventListener("change", check);
    }
  }
  document.querySelectorAll("time[data-countdown]").forEach(function (el) {
    var end = Date.parse(el.getAttribute("data-countdown"));
    if (isNaN(end)) return;
    var wasRunning = end > Date.now();
    var tick = function () {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      if (s > 0) setTimeout(tick, 1000); else if (wasRunning) setTimeout(function () { location.reload(); }, 1500);
    };
    tick();
  });
  // Proof-of-work checkout challenge (asked when many orders came from one place):
  // find a counter so that SHA-256("challenge:counter") starts with N zero bits, then resubmit.
  var pow = document.querySelector("input[name=pow][data-challenge]");
  if (pow) {
    var K = [0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2];
    // SHA-256 of an ASCII string; returns the first 32-bit word (enough to count up to 32 zero bits).
    var sha256First = function (msg) {
      var n = msg.length, words = [], j;
      var len = ((n + 9 + 63) >> 6) << 4;
      for (j = 0; j < len; j++) words[j] = 0;
      for (j = 0; j < n; j++) words[j >> 2] |= msg.charCodeAt(j) << (24 - (j % 4) * 8);
      words[n >> 2] |= 0x80 << (24 - (n % 4) * 8);
      words[len - 1] = n * 8;
      var h = [0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19], w = [];
      for (var b = 0; b < len; b += 16) {
        var a0 = h[0], a1 = h[1], a2 = h[2], a3 = h[3], a4 = h[4], a5 = h[5], a6 = h[6], a7 = h[7];
        for (j = 0; j < 64; j++) {
          if (j < 16) w[j] = words[b + j] | 0;
          else {
            var x = w[j - 15], y = w[j - 2];
            var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
            var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
            w[j] = (w[j - 16] + s0 + w[j - 7] + s1) | 0;
          }
          var S1 = ((a4 >>> 6) | (a4 << 26)) ^ ((a4 >>> 11) | (a4 << 21)) ^ ((a4 >>> 25) | (a4 << 7));
          var t1 = (a7 + S1 + ((a4 & a5) ^ (~a4 & a6)) + K[j] + w[j]) | 0;
          var S0 = ((a0 >>> 2) | (a0 << 30)) ^ ((a0 >>> 13) | (a0 << 19)) ^ ((a0 >>> 22) | (a0 << 10));
          var t2 = (S0 + ((a0 & a1) ^ (a0 & a2) ^ (a1 & a2))) | 0;
          a7 = a6; a6 = a5; a5 = a4; a4 = (a3 + t1) | 0; a3 = a2; a2 = a1; a1 = a0; a0 = (t1 + t2) | 0;
        }
        h[0] = (h[0] + a0) | 0; h[1] = (h[1] + a1) | 0; h[2] = (h[2] + a2) | 0; h[3] = (h[3] + a3) | 0;
        h[4] = (h[4] + a4) | 0; h[5] = (h[5] + a5) | 0; h[6] = (h[6] + a6) | 0; h[7] = (h[7] + a7) | 0;
      }
      return h[0] >>> 0;
    };
    var challenge = pow.getAttribute("data-challenge");
    var bits = parseInt(challenge.split(".")[2], 10) || 16;
    var limit = Math.pow(2, 32 - bits), counter = 0;
    var step = function () {
      for (var k = 0; k < 5000; k++, counter++) {
        if (sha256First(challenge + ":" + counter) < limit) {
          pow.value = challenge + ":" + counter;
          pow.form.submit();
          return;
        }
      }
      setTimeout(step, 0);
    };
    setTimeout(step, 50);
  }
})();
