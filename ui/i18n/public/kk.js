// Strings of the public pages, Kazakh in Cyrillic script (ә ғ қ ң ө ұ ү һ і; plural categories
// one/other, the same noun form after a numeral). See en.js.
export default {
  "lang.label": "Тіл",

  "report.title": "Оқиға туралы хабарлау",
  "report.mapHint": "Картадан оқиға болып жатқан жерді басыңыз.",
  "report.locate": "Менің орналасқан жерім",
  "report.category": "Не болып жатыр?",
  "report.description": "Сипаттама",
  "report.contact": "Байланыс (міндетті емес: телефон немесе e-mail)",
  "report.privacy": "Байланыс деректеріңізді тек хабарламаларды қарайтын полиция операторлары көреді.",
  "report.submit": "Жіберу",
  "report.busy": "Жіберілуде…",
  "report.noPoint": "Орын әлі таңдалмаған: картаны басыңыз.",
  "report.point": "Орын: {lat}; {lon}",
  "report.needPoint": "Алдымен картадан орынды таңдаңыз.",
  "report.sent": "Рақмет. Хабарламаңыз қабылданды.",
  "report.throttled": {
    "one": "Осы жерден тым көп хабарлама жіберілді. {n} минуттан кейін қайталап көріңіз.",
    "other": "Осы жерден тым көп хабарлама жіберілді. {n} минуттан кейін қайталап көріңіз."
  },
  "report.invalid": "Форманы тексеріңіз: {why}",
  "report.failed": "Хабарламаны жіберу мүмкін болмады ({status}). Кейінірек қайталап көріңіз.",
  "report.network": "Қызметке қосылу мүмкін емес. Кейінірек қайталап көріңіз.",
  "report.noGeo": "Орналасқан жеріңіз анықталмады.",
  "report.cat.drug_activity": "Есірткі",
  "report.cat.disturbance": "Қоғамдық тәртіпті бұзу, төбелес, шу",
  "report.cat.theft": "Ұрлық",
  "report.cat.traffic": "Жол қозғалысы",
  "report.cat.suspicious_person": "Күдікті адам",
  "report.cat.suspicious_vehicle": "Күдікті көлік",
  "report.cat.other": "Басқа",

  "login.title": "Nazorat — кіру",
  "login.subtitle": "Басқару орталығына кіру",
  "login.username": "Пайдаланушы аты",
  "login.password": "Құпиясөз",
  "login.submit": "Кіру",
  "login.busy": "Кіру…",
  "login.missing": "Пайдаланушы аты мен құпиясөзді енгізіңіз.",
  "login.invalid": "Пайдаланушы аты немесе құпиясөз қате.",
  "login.throttled": {
    "one": "Сәтсіз әрекеттер тым көп. {n} секундтан кейін қайталап көріңіз.",
    "other": "Сәтсіз әрекеттер тым көп. {n} секундтан кейін қайталап көріңіз."
  },
  "login.failed": "Кіру мүмкін болмады ({status}). Қайталап көріңіз.",
  "login.network": "Қызметке қосылу мүмкін емес.",
  "login.expired": "Сеанс аяқталды. Қайта кіріңіз."
};
