// Strings of the public pages (the report page and the sign-in page), English. Every language
// in this folder has the same keys; {name} marks a parameter; a value that is an object is a
// plural, chosen by Intl.PluralRules for {n} (categories: en one/other). Reviewed terms:
// docs/glossary.md. Checked by tests/test_i18n_catalogues.py.
export default {
  "lang.label": "Language",

  "report.title": "Report an incident",
  "report.mapHint": "Tap the map where it is happening.",
  "report.locate": "Use my location",
  "report.category": "What is happening?",
  "report.description": "Description",
  "report.contact": "Contact (optional: phone or e-mail)",
  "report.privacy": "Your contact is seen only by the police operators handling reports.",
  "report.submit": "Send report",
  "report.busy": "Sending…",
  "report.noPoint": "No place chosen yet: tap the map.",
  "report.point": "Place: {lat}; {lon}",
  "report.needPoint": "Choose the place on the map first.",
  "report.sent": "Thank you. Your report was received.",
  "report.throttled": {
    "one": "Too many reports from here. Try again in {n} minute.",
    "other": "Too many reports from here. Try again in {n} minutes."
  },
  "report.invalid": "Please check the form: {why}",
  "report.failed": "The report could not be sent ({status}). Try again later.",
  "report.network": "The service cannot be reached. Try again later.",
  "report.noGeo": "Your location is not available.",
  "report.cat.drug_activity": "Drug activity",
  "report.cat.disturbance": "Disturbance, fight, noise",
  "report.cat.theft": "Theft",
  "report.cat.traffic": "Traffic",
  "report.cat.suspicious_person": "Suspicious person",
  "report.cat.suspicious_vehicle": "Suspicious vehicle",
  "report.cat.other": "Other",

  "login.title": "Nazorat — sign in",
  "login.subtitle": "Sign in to mission control",
  "login.username": "User name",
  "login.password": "Password",
  "login.submit": "Sign in",
  "login.busy": "Signing in…",
  "login.missing": "Enter your user name and password.",
  "login.invalid": "Wrong user name or password.",
  "login.throttled": {
    "one": "Too many failed attempts. Try again in {n} second.",
    "other": "Too many failed attempts. Try again in {n} seconds."
  },
  "login.failed": "Sign-in failed ({status}). Try again.",
  "login.network": "The service cannot be reached.",
  "login.expired": "Your session has ended. Sign in again."
};
