// Strings of the public pages, Russian (plural categories: one/few/many/other). See en.js.
export default {
  "lang.label": "Язык",

  "report.title": "Сообщить о происшествии",
  "report.mapHint": "Нажмите на карте место происшествия.",
  "report.locate": "Моё местоположение",
  "report.category": "Что происходит?",
  "report.description": "Описание",
  "report.contact": "Контакт (необязательно: телефон или e-mail)",
  "report.privacy": "Ваш контакт видят только операторы полиции, разбирающие сообщения.",
  "report.submit": "Отправить",
  "report.busy": "Отправка…",
  "report.noPoint": "Место не выбрано: нажмите на карту.",
  "report.point": "Место: {lat}; {lon}",
  "report.needPoint": "Сначала выберите место на карте.",
  "report.sent": "Спасибо. Ваше сообщение получено.",
  "report.throttled": {
    "one": "Слишком много сообщений отсюда. Повторите через {n} минуту.",
    "few": "Слишком много сообщений отсюда. Повторите через {n} минуты.",
    "many": "Слишком много сообщений отсюда. Повторите через {n} минут.",
    "other": "Слишком много сообщений отсюда. Повторите через {n} минуты."
  },
  "report.invalid": "Проверьте форму: {why}",
  "report.failed": "Не удалось отправить сообщение ({status}). Повторите позже.",
  "report.network": "Сервис недоступен. Повторите позже.",
  "report.noGeo": "Местоположение недоступно.",
  "report.cat.drug_activity": "Наркотики",
  "report.cat.disturbance": "Нарушение порядка, драка, шум",
  "report.cat.theft": "Кража",
  "report.cat.traffic": "Дорожное движение",
  "report.cat.suspicious_person": "Подозрительный человек",
  "report.cat.suspicious_vehicle": "Подозрительный автомобиль",
  "report.cat.other": "Другое",

  "login.title": "Nazorat — вход",
  "login.subtitle": "Вход в центр управления",
  "login.username": "Имя пользователя",
  "login.password": "Пароль",
  "login.submit": "Войти",
  "login.busy": "Вход…",
  "login.missing": "Введите имя пользователя и пароль.",
  "login.invalid": "Неверное имя пользователя или пароль.",
  "login.throttled": {
    "one": "Слишком много неудачных попыток. Повторите через {n} секунду.",
    "few": "Слишком много неудачных попыток. Повторите через {n} секунды.",
    "many": "Слишком много неудачных попыток. Повторите через {n} секунд.",
    "other": "Слишком много неудачных попыток. Повторите через {n} секунды."
  },
  "login.failed": "Не удалось войти ({status}). Повторите.",
  "login.network": "Сервис недоступен.",
  "login.expired": "Сеанс завершён. Войдите снова."
};
