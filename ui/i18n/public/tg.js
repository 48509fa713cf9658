// Strings of the public pages, Tajik in Cyrillic script (ғ ӣ қ ӯ ҳ ҷ; plural categories
// one/other, the same noun form after a numeral). See en.js.
export default {
  "lang.label": "Забон",

  "report.title": "Хабар додан дар бораи ҳодиса",
  "report.mapHint": "Ҷои ҳодисаро дар харита пахш кунед.",
  "report.locate": "Ҷойгиршавии ман",
  "report.category": "Чӣ рӯй дода истодааст?",
  "report.description": "Тавсиф",
  "report.contact": "Тамос (ихтиёрӣ: телефон ё e-mail)",
  "report.privacy": "Тамоси шуморо танҳо операторони милитсия, ки хабарҳоро баррасӣ мекунанд, мебинанд.",
  "report.submit": "Фиристодан",
  "report.busy": "Фиристода мешавад…",
  "report.noPoint": "Ҷой ҳанӯз интихоб нашудааст: харитаро пахш кунед.",
  "report.point": "Ҷой: {lat}; {lon}",
  "report.needPoint": "Аввал ҷойро дар харита интихоб кунед.",
  "report.sent": "Ташаккур. Хабари шумо қабул шуд.",
  "report.throttled": {
    "one": "Аз ин ҷо хабарҳои аз ҳад зиёд фиристода шуданд. Баъд аз {n} дақиқа бори дигар кӯшиш кунед.",
    "other": "Аз ин ҷо хабарҳои аз ҳад зиёд фиристода шуданд. Баъд аз {n} дақиқа бори дигар кӯшиш кунед."
  },
  "report.invalid": "Шаклро санҷед: {why}",
  "report.failed": "Хабарро фиристодан муяссар нашуд ({status}). Баъдтар бори дигар кӯшиш кунед.",
  "report.network": "Хидмат дастнорас аст. Баъдтар бори дигар кӯшиш кунед.",
  "report.noGeo": "Ҷойгиршавии шумо дастрас нест.",
  "report.cat.drug_activity": "Маводи мухаддир",
  "report.cat.disturbance": "Вайрон кардани тартибот, занозанӣ, ғавғо",
  "report.cat.theft": "Дуздӣ",
  "report.cat.traffic": "Ҳаракат дар роҳ",
  "report.cat.suspicious_person": "Шахси шубҳанок",
  "report.cat.suspicious_vehicle": "Мошини шубҳанок",
  "report.cat.other": "Дигар",

  "login.title": "Nazorat — воридшавӣ",
  "login.subtitle": "Воридшавӣ ба маркази идоракунӣ",
  "login.username": "Номи корбар",
  "login.password": "Рамз",
  "login.submit": "Ворид шудан",
  "login.busy": "Воридшавӣ…",
  "login.missing": "Номи корбар ва рамзро ворид кунед.",
  "login.invalid": "Номи корбар ё рамз нодуруст аст.",
  "login.throttled": {
    "one": "Кӯшишҳои ноком аз ҳад зиёданд. Баъд аз {n} сония бори дигар кӯшиш кунед.",
    "other": "Кӯшишҳои ноком аз ҳад зиёданд. Баъд аз {n} сония бори дигар кӯшиш кунед."
  },
  "login.failed": "Ворид шудан муяссар нашуд ({status}). Бори дигар кӯшиш кунед.",
  "login.network": "Хидмат дастнорас аст.",
  "login.expired": "Ҷаласа ба охир расид. Бори дигар ворид шавед."
};
