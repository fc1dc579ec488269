// The notice form: the member picker shows only while "单个成员" is the chosen audience
// (the server draws it that way too; this follows the choice without a round trip).
(function () {
  "use strict";
  var audience = document.getElementById("audience");
  var pick = document.getElementById("member-pick");
  if (!audience || !pick) return;
  function follow() { pick.hidden = audience.value !== "member:"; }
  audience.addEventListener("change", follow);
  follow();
})();
