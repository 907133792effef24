/* "Créer un compte": the sign-up form of the residents' page, reached from
 * the login screen. Phone first: the home is placed on
 * a map (a tap, the phone's position, or the keyboard), the proof of
 * address is photographed or picked from the files, checked here for its
 * type and size (a photo too large is re-encoded smaller), and sent with
 * the rest as multipart/form-data to POST /api/residents. Then the new
 * account is logged in, so the page shows its status at once.
 *
 * Errors, from this check or from the server (422 with "field"), are
 * written under their field, listed in a summary at the top that is
 * announced (role=alert) and focused, each entry a link to its field. */
import { api, postForm } from "../shared/api.js";
import { ACCOUNTS, PROOF } from "../shared/config.js";
import { $, el } from "../shared/dom.js";
import { baseMap, sectorLayer } from "../map/basemap.js";

const MIN_PASSWORD = ACCOUNTS.password_min_length;
const MAX_SIDE = 2400; // px: a re-encoded photo stays readable
const EXTENSIONS = { pdf: "application/pdf", jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png" };
const number = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });

// each field: where its value is read, where its error is written, its name in the summary
const FIELDS = {
  name: { focus: "j-name", invalid: "j-name", error: "j-name-error", label: "Nom et prénom" },
  email: { focus: "j-email", invalid: "j-email", error: "j-email-error", label: "Adresse e-mail" },
  password: { focus: "j-password", invalid: "j-password", error: "j-password-error", label: "Mot de passe" },
  address: { focus: "j-address", invalid: "j-address", error: "j-address-error", label: "Adresse du domicile" },
  home: { focus: "j-locate", error: "j-home-error", label: "Domicile sur la carte" },
  phone: { focus: "j-phone", invalid: "j-phone", error: "j-phone-error", label: "Téléphone" },
  on_behalf_of: { focus: "j-behalf", invalid: "j-behalf", error: "j-behalf-error", label: "Nom du proche" },
  proof: { focus: "j-proof-file", invalid: "j-proof-file", error: "j-proof-error", label: "Justificatif de domicile" },
};
const SERVER_FIELDS = { lat: "home", lon: "home" }; // the API's field -> the form's

const sizeText = (bytes) => (bytes < 1024 * 1024 ? `${number.format(bytes / 1024)} Ko` : `${number.format(bytes / 1024 / 1024)} Mo`);
const MAX_TEXT = sizeText(PROOF.max_bytes);

/* "06 12 34 56 78", "+33 (0)6…", "0033 6…" -> "+33612345678"; null if it
 * cannot be an E.164 number. */
export function e164(raw) {
  let s = raw.replace(/[\s.\-()/]/g, "");
  if (s.startsWith("00")) s = "+" + s.slice(2);
  else if (/^0\d{9}$/.test(s)) s = "+33" + s.slice(1); // a French national number
  s = s.replace(/^\+330/, "+33");
  return /^\+[1-9]\d{7,14}$/.test(s) ? s : null;
}

function typeOf(file) {
  if (PROOF.types.includes(file.type)) return file.type;
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return file.type ? null : EXTENSIONS[ext] || null; // no type given: judge by the name
}

/* A photo over the limit, re-encoded as a JPEG small enough; null if it
 * cannot be. The server judges the type from the content anyway. */
async function shrink(file) {
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = el("canvas", { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    for (const quality of [0.85, 0.7, 0.5]) {
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
      if (blob && blob.size <= PROOF.max_bytes) {
        return new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" });
      }
    }
  } catch (e) { /* not an image this browser can decode */ }
  return null;
}

let joined = false;
/* The account on the page was made by this form, just now. */
export const justJoined = () => joined;

export function bindJoin() {
  const gate = $("login");
  const page = $("join");
  const form = $("join-form");
  const summary = $("join-summary");
  const progress = $("join-progress");
  let home = null; // {lat, lon}
  let proof = null; // File
  let map = null;
  let homeLayer = null;

  /* -- showing the form ------------------------------------------------------- */
  async function show() {
    gate.hidden = true;
    page.hidden = false;
    form.hidden = false;
    $("join-done").hidden = true;
    $("join-title").focus();
    if (!map) await makeMap();
  }

  function backToLogin(email) {
    page.hidden = true;
    gate.hidden = false;
    if (email) gate.querySelector("#login-email").value = email;
    gate.querySelector(email ? "#login-password" : "#login-email").focus();
  }

  async function makeMap() {
    map = baseMap("j-map");
    homeLayer = L.layerGroup().addTo(map);
    map.on("click", (ev) => setHome(ev.latlng.lat, ev.latlng.lng, "sur la carte"));
    // the keyboard: Leaflet pans with the arrows and zooms with +/-;
    // Enter or Space puts the point where the crosshair is (app.css)
    map.getContainer().addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" && ev.key !== " ") return;
      ev.preventDefault();
      const c = map.getCenter();
      setHome(c.lat, c.lng, "au centre de la carte");
    });
    try {
      const sectors = sectorLayer(map, await api("GET", "/api/sectors"), { labels: false });
      map.fitBounds(sectors.getBounds());
    } catch (e) { /* the map works without the outlines */ }
  }

  function setHome(lat, lon, how) {
    home = { lat, lon };
    homeLayer.clearLayers();
    L.circleMarker([lat, lon], { radius: 9, color: "#0d47a1", weight: 3, fillColor: "#42a5f5", fillOpacity: 0.9, interactive: false }).addTo(homeLayer);
    $("j-where").textContent = `Domicile placé ${how}.`;
    clearError("home");
  }

  $("j-locate").addEventListener("click", () => {
    if (!navigator.geolocation) { $("j-where").textContent = "Localisation indisponible : touchez la carte."; return; }
    $("j-where").textContent = "Localisation…";
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        setHome(pos.coords.latitude, pos.coords.longitude, "à votre position");
        map.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.getZoom(), 17));
      },
      () => { $("j-where").textContent = "Localisation refusée ou impossible : touchez la carte."; },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  });

  /* -- the other inputs ---------------------------------------------------------- */
  $("j-show-password").addEventListener("change", (ev) => { $("j-password").type = ev.target.checked ? "text" : "password"; });
  $("j-proxy").addEventListener("change", (ev) => {
    $("j-behalf-field").hidden = !ev.target.checked;
    if (!ev.target.checked) clearError("on_behalf_of");
  });

  async function chooseProof(input, other) {
    other.value = "";
    const file = input.files[0];
    proof = null;
    clearError("proof");
    if (!file) { $("j-proof-chosen").textContent = "Aucun justificatif choisi."; return; }
    const type = typeOf(file);
    if (!type) {
      setError("proof", "Ce fichier n'est ni un PDF, ni un JPEG, ni un PNG.");
      $("j-proof-chosen").textContent = "Aucun justificatif choisi.";
      return;
    }
    let chosen = file;
    if (file.size > PROOF.max_bytes) {
      if (!type.startsWith("image/") || !(chosen = await shrink(file))) {
        setError("proof", `Le fichier fait ${sizeText(file.size)} : ${MAX_TEXT} au plus. Photographiez plutôt le document.`);
        $("j-proof-chosen").textContent = "Aucun justificatif choisi.";
        return;
      }
    }
    proof = chosen;
    const note = chosen === file ? "" : " (photo réduite pour l'envoi)";
    $("j-proof-chosen").textContent = `Justificatif : ${chosen.name}, ${sizeText(chosen.size)}${note}.`;
  }
  $("j-proof-camera").addEventListener("change", () => chooseProof($("j-proof-camera"), $("j-proof-file")));
  $("j-proof-file").addEventListener("change", () => chooseProof($("j-proof-file"), $("j-proof-camera")));

  /* -- errors ------------------------------------------------------------------------ */
  function setError(key, message) {
    const f = FIELDS[key];
    $(f.error).textContent = message;
    if (f.invalid) $(f.invalid).setAttribute("aria-invalid", "true");
  }
  function clearError(key) {
    const f = FIELDS[key];
    $(f.error).textContent = "";
    if (f.invalid) $(f.invalid).removeAttribute("aria-invalid");
    // a point put right leaves the summary too
    const entry = $("join-summary-list").querySelector(`[data-key="${key}"]`);
    if (entry) entry.remove();
    if (!$("join-summary-list").children.length) summary.hidden = true;
  }
  for (const [key, f] of Object.entries(FIELDS)) {
    if (f.invalid && key !== "proof") $(f.invalid).addEventListener("input", () => clearError(key));
  }

  /* errors: [{key, message}] with a field, or {message} for the whole form */
  function showErrors(errors) {
    for (const key of Object.keys(FIELDS)) clearError(key);
    const items = errors.map((e) => {
      if (!e.key) return el("li", { text: e.message });
      setError(e.key, e.message);
      const link = el("a", { href: `#${FIELDS[e.key].focus}`, text: `${FIELDS[e.key].label} : ${e.message}` });
      link.addEventListener("click", (ev) => { ev.preventDefault(); $(FIELDS[e.key].focus).focus(); });
      return el("li", { dataset: { key: e.key } }, link);
    });
    $("join-summary-list").replaceChildren(...items);
    summary.hidden = false;
    summary.focus();
  }

  function check() {
    const v = (id) => $(id).value.trim();
    const errors = [];
    if (!v("j-name")) errors.push({ key: "name", message: "Indiquez votre nom et votre prénom." });
    if (!v("j-email")) errors.push({ key: "email", message: "Indiquez votre adresse e-mail." });
    else if (!$("j-email").checkValidity()) errors.push({ key: "email", message: "Cette adresse e-mail n'est pas valide (exemple : nom@exemple.fr)." });
    if ($("j-password").value.length < MIN_PASSWORD) errors.push({ key: "password", message: `${MIN_PASSWORD} caractères au moins, ni votre nom ni votre adresse e-mail.` });
    if (!v("j-address")) errors.push({ key: "address", message: "Indiquez l'adresse du domicile." });
    if (!home) errors.push({ key: "home", message: "Placez le domicile sur la carte." });
    if (v("j-phone") && !e164(v("j-phone"))) errors.push({ key: "phone", message: "Numéro au format international, par exemple +33 6 12 34 56 78." });
    if ($("j-proxy").checked && !v("j-behalf")) errors.push({ key: "on_behalf_of", message: "Indiquez le nom de la personne qui habite à cette adresse." });
    if (!proof && !$("j-proof-error").textContent) errors.push({ key: "proof", message: "Joignez un justificatif de domicile." });
    else if (!proof) errors.push({ key: "proof", message: $("j-proof-error").textContent });
    return errors;
  }

  // what the server's error codes mean here (docs/reference.md, errors)
  const CODE_TEXT = {
    missing_field: "Ce champ est obligatoire.",
    too_long: "C'est trop long.",
    too_short: "C'est trop court.",
    outside_city: `Ce point est en dehors de la commune : placez le domicile dans ${document.body.dataset.city}.`,
    out_of_range: "Placez le domicile sur la carte.",
    invalid_email: "Cette adresse e-mail n'est pas valide (exemple : nom@exemple.fr).",
    invalid_phone: "Ce numéro n'est pas valide : format international, par exemple +33 6 12 34 56 78.",
    weak_password: `Mot de passe trop facile à deviner : ${MIN_PASSWORD} caractères au moins, ni votre nom ni votre adresse e-mail.`,
    invalid_proof: "Ce fichier n'est ni un PDF, ni un JPEG, ni un PNG.",
    proof_too_large: `Le justificatif dépasse ${MAX_TEXT}.`,
  };
  const FIELD_TEXT = {
    email: "Cette adresse e-mail n'est pas valide.",
    phone: "Numéro au format international, par exemple +33 6 12 34 56 78.",
    proof: `Le justificatif doit être un PDF, un JPEG ou un PNG de ${MAX_TEXT} au plus.`,
    home: "Placez le domicile sur la carte, dans la commune.",
  };
  function serverError(e) {
    if (e.status === 429) {
      const minutes = e.retryAfter ? Math.ceil(e.retryAfter / 60) : null;
      return { message: `Trop de demandes : réessayez ${minutes ? `dans ${minutes} min` : "plus tard"}.` };
    }
    if (e.status === 413) return { key: "proof", message: `Le justificatif dépasse ${MAX_TEXT}.` };
    const key = SERVER_FIELDS[e.field] || e.field;
    if (!FIELDS[key]) return { message: e.status ? `Demande refusée : ${e.message}` : "Envoi impossible : vérifiez votre connexion et réessayez." };
    return { key, message: CODE_TEXT[e.code] || FIELD_TEXT[key] || e.message };
  }

  /* -- sending ---------------------------------------------------------------------- */
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const errors = check();
    if (errors.length) { showErrors(errors); return; }
    summary.hidden = true;
    const email = $("j-email").value.trim();
    const password = $("j-password").value;
    const body = new FormData();
    body.append("name", $("j-name").value.trim());
    body.append("email", email);
    body.append("password", password);
    body.append("address", $("j-address").value.trim());
    body.append("lat", home.lat.toFixed(6));
    body.append("lon", home.lon.toFixed(6));
    if ($("j-phone").value.trim()) body.append("phone", e164($("j-phone").value.trim()));
    if ($("j-proxy").checked) body.append("on_behalf_of", $("j-behalf").value.trim());
    body.append("proof", proof, proof.name);

    $("join-send").disabled = true;
    progress.textContent = "Envoi de votre demande…";
    try {
      await postForm("/api/residents", body);
    } catch (e) {
      progress.textContent = "";
      $("join-send").disabled = false;
      showErrors([serverError(e)]);
      return;
    }
    progress.textContent = "Demande envoyée. Connexion…";
    try {
      await api("POST", "/api/auth/login", { email, password });
      const me = await api("GET", "/session");
      joined = true;
      page.hidden = true;
      document.dispatchEvent(new CustomEvent("dispatch:session", { detail: me }));
    } catch (e) {
      // the answer never tells whether the e-mail already had an account,
      // and neither does this page: the same words either way
      form.hidden = true;
      $("join-done").hidden = false;
      $("join-done-login").focus();
    } finally {
      progress.textContent = "";
      $("join-send").disabled = false;
    }
  });

  $("open-join").addEventListener("click", show);
  $("join-back").addEventListener("click", () => backToLogin(""));
  $("join-done-login").addEventListener("click", () => backToLogin($("j-email").value.trim()));
}
