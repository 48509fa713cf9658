// Strings of the public pages, Uzbek in Cyrillic script (ў қ ғ ҳ; plural categories one/other).
// A letter-for-letter counterpart of uz.js. See en.js.
export default {
  "lang.label": "Тил",

  "report.title": "Ҳодиса ҳақида хабар бериш",
  "report.mapHint": "Харитада ҳодиса юз бераётган жойни босинг.",
  "report.locate": "Менинг жойлашувим",
  "report.category": "Нима бўляпти?",
  "report.description": "Тавсиф",
  "report.contact": "Алоқа (ихтиёрий: телефон ёки e-mail)",
  "report.privacy": "Алоқа маълумотларингизни фақат хабарларни кўриб чиқувчи ички ишлар органлари операторлари кўради.",
  "report.submit": "Юбориш",
  "report.busy": "Юборилмоқда…",
  "report.noPoint": "Жой ҳали танланмаган: харитани босинг.",
  "report.point": "Жой: {lat}; {lon}",
  "report.needPoint": "Аввал харитада жойни танланг.",
  "report.sent": "Раҳмат. Хабарингиз қабул қилинди.",
  "report.throttled": {
    "one": "Бу ердан жуда кўп хабар юборилди. {n} дақиқадан сўнг қайта уриниб кўринг.",
    "other": "Бу ердан жуда кўп хабар юборилди. {n} дақиқадан сўнг қайта уриниб кўринг."
  },
  "report.invalid": "Шаклни текширинг: {why}",
  "report.failed": "Хабарни юбориб бўлмади ({status}). Кейинроқ қайта уриниб кўринг.",
  "report.network": "Хизматга уланиб бўлмади. Кейинроқ қайта уриниб кўринг.",
  "report.noGeo": "Жойлашувингизни аниқлаб бўлмади.",
  "report.cat.drug_activity": "Гиёҳванд моддалар",
  "report.cat.disturbance": "Жамоат тартибини бузиш, жанжал, шовқин",
  "report.cat.theft": "Ўғирлик",
  "report.cat.traffic": "Йўл ҳаракати",
  "report.cat.suspicious_person": "Шубҳали шахс",
  "report.cat.suspicious_vehicle": "Шубҳали автомобиль",
  "report.cat.other": "Бошқа",

  "login.title": "Nazorat — кириш",
  "login.subtitle": "Бошқарув марказига кириш",
  "login.username": "Фойдаланувчи номи",
  "login.password": "Парол",
  "login.submit": "Кириш",
  "login.busy": "Кирилмоқда…",
  "login.missing": "Фойдаланувчи номи ва паролни киритинг.",
  "login.invalid": "Фойдаланувчи номи ёки парол нотўғри.",
  "login.throttled": {
    "one": "Муваффақиятсиз уринишлар жуда кўп. {n} сониядан сўнг қайта уриниб кўринг.",
    "other": "Муваффақиятсиз уринишлар жуда кўп. {n} сониядан сўнг қайта уриниб кўринг."
  },
  "login.failed": "Кириб бўлмади ({status}). Қайта уриниб кўринг.",
  "login.network": "Хизматга уланиб бўлмади.",
  "login.expired": "Сеанс тугади. Қайтадан киринг."
};
