// The phone simulator's page: sends each phone's texts to the server (which posts them to the
// bot as Twilio would) and shows every message as it happens, from one Server-Sent Events
// stream. Plain JS, no build step, nothing fetched from elsewhere.
"use strict";

const root = document.getElementById("simulator");
const phones = document.getElementById("phones");
const HEADERS = { "X-Simulator": "1" }; // a cross-site form cannot send it
const CARRIER = "Twilio"; // the `via` of what Twilio itself texts (its reply to STOP, START, HELP)

function phoneWindow(number) {
  return phones.querySelector(`section.phone[data-number="${CSS.escape(number)}"]`);
}

function ensurePhone(number, label) {
  let section = phoneWindow(number);
  if (section) return section;
  const template = document.getElementById("phone-template");
  section = template.content.firstElementChild.cloneNode(true);
  section.dataset.number = number;
  section.querySelector(".number").textContent = number;
  section.querySelector(".label").textContent = label || "";
  section.querySelector("input[name=body]").setAttribute("aria-label", `Text message from ${number}`);
  phones.appendChild(section);
  return section;
}

function addMessage(m) {
  if (document.querySelector(`.bubble[data-id="${m.id}"]`)) return; // from the stream and the send
  const list = ensurePhone(m.phone, "").querySelector(".messages");
  const bubble = document.getElementById("bubble-template").content.firstElementChild.cloneNode(true);
  bubble.className = `bubble ${m.direction}` + (m.via === CARRIER ? " carrier" : "");
  bubble.dataset.id = m.id;
  const text = bubble.querySelector(".text");
  for (const url of m.media) {
    const link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    const img = document.createElement("img");
    img.className = "photo";
    img.src = url;
    img.alt = "photo";
    // The photo takes its height only once loaded: scroll again then, or the text under it
    // stays below the fold.
    img.addEventListener("load", () => scrollToEnd(list));
    link.appendChild(img);
    bubble.insertBefore(link, text);
  }
  if (m.body) text.textContent = m.body;
  else text.remove();
  bubble.querySelector(".via").textContent =
    m.via === CARRIER ? "from Twilio itself, not the bot" : m.via;
  // Keep the order of ids even if the send's answer and the stream race each other.
  const later = [...list.children].find((b) => Number(b.dataset.id) > m.id);
  list.insertBefore(bubble, later || null);
  scrollToEnd(list);
}

function scrollToEnd(list) {
  list.scrollTop = list.scrollHeight;
}

function showClock(hours) {
  document.getElementById("clock").textContent =
    hours ? `Twilio's clock: +${hours} h` : "Twilio's clock: now";
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", body, headers: HEADERS });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

phones.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const section = form.closest("section.phone");
  const status = section.querySelector(".status");
  const button = form.querySelector("button");
  const data = new FormData(form);
  data.set("from", section.dataset.number);
  button.disabled = true;
  status.textContent = "sending...";
  try {
    const answer = await post("/simulator/send", data);
    answer.events.forEach(addMessage);
    form.reset();
    status.textContent = "";
  } catch (error) {
    status.textContent = error.message;
  } finally {
    button.disabled = false;
    form.querySelector("input[name=body]").focus();
  }
});

phones.addEventListener("change", (event) => {
  if (event.target.name !== "photo") return;
  const file = event.target.files[0];
  const status = event.target.closest("section.phone").querySelector(".status");
  status.textContent = file ? `photo attached: ${file.name}` : "";
});

document.getElementById("add-phone").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    const phone = await post("/simulator/phones", new FormData(form));
    ensurePhone(phone.number, phone.label);
    form.reset();
  } catch (error) {
    alert(error.message);
  }
});

document.getElementById("jump").addEventListener("click", async () => {
  const answer = await post("/simulator/jump", new FormData());
  showClock(answer.offset_hours);
});

for (const list of document.querySelectorAll(".messages")) {
  scrollToEnd(list);
  for (const img of list.querySelectorAll("img.photo")) {
    img.addEventListener("load", () => scrollToEnd(list));
  }
}

// One stream for the page; the browser reconnects by itself, sending Last-Event-ID.
const source = new EventSource(`/simulator/events?after=${root.dataset.lastId}`);
source.addEventListener("message", (event) => addMessage(JSON.parse(event.data)));
source.addEventListener("phone", (event) => {
  const phone = JSON.parse(event.data);
  ensurePhone(phone.number, phone.label);
});
source.addEventListener("clock", (event) => showClock(JSON.parse(event.data).offset_hours));
source.addEventListener("open", () => root.classList.add("live"));
source.addEventListener("error", () => root.classList.remove("live"));
