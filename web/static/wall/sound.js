/* The wall's chime: a short two-note tone made with the Web Audio API (an
 * oscillator, so no audio file to ship or cache), a visible toggle whose
 * state is remembered on this screen (localStorage), and the one click
 * browsers require before a page may make a sound (Chrome's autoplay
 * policy: an AudioContext made before any user gesture stays suspended).
 *
 * The context is made on that first click, never before, so the page
 * raises no autoplay warning and the prompt is honest: until the click,
 * nothing can be heard, and the page says so. */

const KEY = "dispatch.wall.sound";
const MIN_GAP_MS = 3000; // a burst of urgent incidents chimes once, not ten times

export function createSound(toggle, prompt) {
  let on = localStorage.getItem(KEY) !== "off"; // on unless this screen turned it off
  let audio = null;
  let last = -Infinity;

  const arm = () => {
    if (!audio) audio = new AudioContext();
    if (audio.state === "suspended") audio.resume();
  };
  const show = () => {
    toggle.setAttribute("aria-pressed", String(on));
    toggle.dataset.state = on ? "on" : "off";
    // asked once: after the click that armed the audio, the prompt is gone for good
    prompt.hidden = !on || audio !== null;
  };
  toggle.addEventListener("click", () => {
    on = !on;
    localStorage.setItem(KEY, on ? "on" : "off");
    if (on) arm(); // this click is the gesture the browser wants
    show();
  });
  prompt.addEventListener("click", () => {
    arm();
    show();
  });
  show();

  /* Two notes, 880 then 660 Hz, 0.18 s each, with a soft attack and
   * release so the speaker does not click. */
  function chime() {
    const now = performance.now();
    if (!on || !audio || now - last < MIN_GAP_MS) return false;
    last = now;
    const t0 = audio.currentTime;
    [880, 660].forEach((freq, i) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      const start = t0 + i * 0.2;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0, start);
      gain.gain.linearRampToValueAtTime(0.35, start + 0.02);
      gain.gain.linearRampToValueAtTime(0, start + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.2);
    });
    return true;
  }
  return { chime, isOn: () => on };
}
