// Strings of the public pages, Uzbek in Latin script (oʻ gʻ with U+02BB, the tutuq belgisi ʼ
// U+02BC; plural categories one/other, the same noun form after a numeral). See en.js.
export default {
  "lang.label": "Til",

  "report.title": "Hodisa haqida xabar berish",
  "report.mapHint": "Xaritada hodisa yuz berayotgan joyni bosing.",
  "report.locate": "Mening joylashuvim",
  "report.category": "Nima boʻlyapti?",
  "report.description": "Tavsif",
  "report.contact": "Aloqa (ixtiyoriy: telefon yoki e-mail)",
  "report.privacy": "Aloqa maʼlumotlaringizni faqat xabarlarni koʻrib chiquvchi ichki ishlar organlari operatorlari koʻradi.",
  "report.submit": "Yuborish",
  "report.busy": "Yuborilmoqda…",
  "report.noPoint": "Joy hali tanlanmagan: xaritani bosing.",
  "report.point": "Joy: {lat}; {lon}",
  "report.needPoint": "Avval xaritada joyni tanlang.",
  "report.sent": "Rahmat. Xabaringiz qabul qilindi.",
  "report.throttled": {
    "one": "Bu yerdan juda koʻp xabar yuborildi. {n} daqiqadan soʻng qayta urinib koʻring.",
    "other": "Bu yerdan juda koʻp xabar yuborildi. {n} daqiqadan soʻng qayta urinib koʻring."
  },
  "report.invalid": "Shaklni tekshiring: {why}",
  "report.failed": "Xabarni yuborib boʻlmadi ({status}). Keyinroq qayta urinib koʻring.",
  "report.network": "Xizmatga ulanib boʻlmadi. Keyinroq qayta urinib koʻring.",
  "report.noGeo": "Joylashuvingizni aniqlab boʻlmadi.",
  "report.cat.drug_activity": "Giyohvand moddalar",
  "report.cat.disturbance": "Jamoat tartibini buzish, janjal, shovqin",
  "report.cat.theft": "Oʻgʻirlik",
  "report.cat.traffic": "Yoʻl harakati",
  "report.cat.suspicious_person": "Shubhali shaxs",
  "report.cat.suspicious_vehicle": "Shubhali avtomobil",
  "report.cat.other": "Boshqa",

  "login.title": "Nazorat — kirish",
  "login.subtitle": "Boshqaruv markaziga kirish",
  "login.username": "Foydalanuvchi nomi",
  "login.password": "Parol",
  "login.submit": "Kirish",
  "login.busy": "Kirilmoqda…",
  "login.missing": "Foydalanuvchi nomi va parolni kiriting.",
  "login.invalid": "Foydalanuvchi nomi yoki parol notoʻgʻri.",
  "login.throttled": {
    "one": "Muvaffaqiyatsiz urinishlar juda koʻp. {n} soniyadan soʻng qayta urinib koʻring.",
    "other": "Muvaffaqiyatsiz urinishlar juda koʻp. {n} soniyadan soʻng qayta urinib koʻring."
  },
  "login.failed": "Kirib boʻlmadi ({status}). Qayta urinib koʻring.",
  "login.network": "Xizmatga ulanib boʻlmadi.",
  "login.expired": "Seans tugadi. Qaytadan kiring."
};
