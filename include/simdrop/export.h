/* Symbol visibility for the simdrop library (static or shared). */
#ifndef SIMDROP_EXPORT_H
#define SIMDROP_EXPORT_H

#if defined(SIMDROP_STATIC_DEFINE)
#define SIMDROP_API
#elif defined(_WIN32)
#if defined(SIMDROP_BUILDING)
#define SIMDROP_API __declspec(dllexport)
#else
#define SIMDROP_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define SIMDROP_API __attribute__((visibility("default")))
#else
#define SIMDROP_API
#endif

#endif /* SIMDROP_EXPORT_H */
