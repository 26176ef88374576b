// The C ABI between the engine and the sentencepiece module (libmmspm.so). Debian's
// libsentencepiece carries its own protobuf, which must never share symbols with LibTorch's,
// so the module is dlopen'ed with RTLD_LOCAL | RTLD_DEEPBIND and only plain C types cross
// this boundary. No function throws; errors come back as return values.
//
// Buffer convention: functions that fill `out` (capacity `cap`) return the full size needed;
// when it exceeds `cap` only the first `cap` elements were written and the caller calls again
// with a bigger buffer. A negative return is an error. Strings are not NUL-terminated.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define MMSPM_ABI_VERSION 1
#define MMSPM_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

/// An opaque loaded model (a sentencepiece processor plus the piece types).
typedef struct mmspm_model mmspm_model;

/// MMSPM_ABI_VERSION of the module; the engine refuses a module with another version.
MMSPM_API int32_t mmspm_abi_version(void);

/// Loads a tokenizer.model. On failure returns NULL and writes a message into err.
MMSPM_API mmspm_model* mmspm_load(const char* path, char* err, size_t errlen);
/// Frees a model from mmspm_load; NULL is ignored.
MMSPM_API void mmspm_free(mmspm_model* model);

/// Encodes len bytes of UTF-8 text into piece ids. Returns the number of ids.
MMSPM_API int64_t mmspm_encode(const mmspm_model* model, const char* text, size_t len, int32_t* out, size_t cap);
/// Decodes n piece ids (all in [0, piece_size)) into UTF-8 text. Returns its length in bytes.
MMSPM_API int64_t mmspm_decode(const mmspm_model* model, const int32_t* ids, size_t n, char* out, size_t cap);

/// Number of pieces in the model; ids are 0 .. piece_size - 1.
MMSPM_API int32_t mmspm_piece_size(const mmspm_model* model);
/// The piece text of id. Returns its length in bytes, or -1 when id is out of range.
MMSPM_API int64_t mmspm_id_to_piece(const mmspm_model* model, int32_t id, char* out, size_t cap);
/// The id of a piece given by its exact text, or -1 when the model has no such piece.
MMSPM_API int32_t mmspm_piece_to_id(const mmspm_model* model, const char* piece, size_t len);

/// Piece type queries: 1 for yes, 0 for no (and for ids out of range).
MMSPM_API int32_t mmspm_is_control(const mmspm_model* model, int32_t id);
MMSPM_API int32_t mmspm_is_user_defined(const mmspm_model* model, int32_t id);
MMSPM_API int32_t mmspm_is_unknown(const mmspm_model* model, int32_t id);
MMSPM_API int32_t mmspm_is_byte(const mmspm_model* model, int32_t id);

/// Reserved ids; -1 when the model defines none.
MMSPM_API int32_t mmspm_bos_id(const mmspm_model* model);
MMSPM_API int32_t mmspm_eos_id(const mmspm_model* model);
MMSPM_API int32_t mmspm_unk_id(const mmspm_model* model);
MMSPM_API int32_t mmspm_pad_id(const mmspm_model* model);

/// Trains a model from sentencepiece trainer flags. With one flag per line ("--key=value" or
/// "key=value") values may hold spaces; text without a newline goes to sentencepiece's own
/// space-separated parser. Returns 0 on success, otherwise nonzero with a message in err.
MMSPM_API int32_t mmspm_train(const char* args, char* err, size_t errlen);

#ifdef __cplusplus
}  // extern "C"
#endif
