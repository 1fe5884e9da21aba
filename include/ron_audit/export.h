// RON_AUDIT_EXPORT marks what libronaudit.so exports: the library is built with
// -fvisibility=hidden, so everything else stays inside it.
#ifndef RON_AUDIT_EXPORT_H_
#define RON_AUDIT_EXPORT_H_

#define RON_AUDIT_EXPORT [[gnu::visibility("default")]]

#endif  // RON_AUDIT_EXPORT_H_
