/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * records.h - item framing: a streaming reader and writer of work items and
 * result records (internal).
 *
 * Framings (the same for input and output):
 *
 *   MPIMAP_FRAME_LINE    one record per line, without its '\n'. An
 *                        unterminated last line is still a record; an empty
 *                        input has no records; "a\n\nb\n" is three records,
 *                        the second one empty.
 *   MPIMAP_FRAME_NUL     the same with '\0' as the terminator.
 *   MPIMAP_FRAME_BINARY  each record is a little-endian uint64 length
 *                        followed by that many bytes (any bytes).
 *
 * The reader streams: it keeps a ~1 MiB read buffer and, only for a record
 * larger than that, a second buffer as large as the largest such record.
 * Memory never grows with the number of records.
 *
 * Indexed records (mpimap_writer_put_indexed(), for --unordered output,
 * where records are written in completion order and carry their input
 * index):
 *
 *   LINE, NUL  "<index>\t<data><sep>": the index in decimal ASCII, a tab,
 *              the bytes, then '\n' (LINE) or '\0' (NUL).
 *   BINARY     le64 index, le64 length, then the bytes.
 *
 * The writer writes the bytes it is given: in LINE or NUL framing a record
 * that contains the separator reads back as several records; that policy
 * belongs to the caller.
 *
 * Errors: functions return 0 (or 1 for "an item was read") or a negative
 * MPIMAP_E* code; the reader and the writer keep a message for the user
 * that names the file (and, for input, the item index and byte offset).
 * Neither object is thread-safe; distinct objects are independent.
 */
#ifndef MPIMAP_CORE_RECORDS_H
#define MPIMAP_CORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

/* enum mpimap_framing (MPIMAP_FRAME_LINE, _NUL, _BINARY) is public: it is
 * in <mpimap/mpimap.h>. */
#include <mpimap/mpimap.h>

/* ---- Reader ------------------------------------------------------------- */

typedef struct mpimap_reader mpimap_reader;

/*
 * Open path for reading (NULL or "-" = standard input, which is not
 * closed by mpimap_reader_close()).
 *
 * Returns 0, or a negative code: MPIMAP_ENOTFOUND for a missing file
 * (message "cannot open 'x': No such file or directory"), MPIMAP_EIO for
 * other open failures, MPIMAP_EINVAL for an unknown framing. Unless the
 * code is MPIMAP_ENOMEM, *r is set even on failure, to a reader in the
 * failed state: mpimap_reader_error() gives the message,
 * mpimap_reader_next() returns the code again, and it must be closed with
 * mpimap_reader_close(). On MPIMAP_ENOMEM *r is NULL.
 */
int mpimap_reader_open(mpimap_reader **r, const char *path, int framing);

/*
 * Read the next record. Returns 1 and sets *data, *len (valid until the
 * next call to any reader function); 0 at the end of the input; or a
 * negative code (MPIMAP_EINVAL for a malformed BINARY input, MPIMAP_EIO
 * for a read error, MPIMAP_ENOMEM), which sticks: later calls return it
 * again. For LINE and NUL framing data[len] is '\0', so a text handler may
 * use data as a C string (it ends at the first NUL of the record); for
 * BINARY it is not terminated.
 */
int mpimap_reader_next(mpimap_reader *r, const void **data, size_t *len);

/*
 * The unread records already in the buffer, the next one first, for a
 * caller that splits them itself (the root packing a batch): with LINE or
 * NUL framing and no error, sets *data, *len to the unread bytes in the
 * buffer (maybe none; no read is made) and *sep to the separator, and
 * returns 1. A record there is complete only when its separator is; the
 * caller takes whole records and says how many with
 * mpimap_reader_consume(), and reads an incomplete one with
 * mpimap_reader_next(). Otherwise (BINARY framing, a failed reader)
 * returns 0. The bytes are not NUL-terminated per record.
 */
int mpimap_reader_peek(mpimap_reader *r, const unsigned char **data, size_t *len, int *sep);

/* Take nbytes of the peeked bytes, holding nrecords whole records (each
 * with its separator), as mpimap_reader_next() would have. */
void mpimap_reader_consume(mpimap_reader *r, size_t nbytes, uint64_t nrecords);

/* The message of the last failure, such as
 *   "input.bin: item 3 at byte 57: record claims 1000 bytes but only 12 remain"
 * or NULL when nothing failed. Valid until the next call on r. */
const char *mpimap_reader_error(const mpimap_reader *r);

/* The index (0-based) of the next record mpimap_reader_next() returns;
 * after the end of the input, the number of records. */
uint64_t mpimap_reader_index(const mpimap_reader *r);

/* Start again from the first record (and clear a sticky error). Only for
 * seekable inputs (regular files, also as redirected standard input);
 * otherwise MPIMAP_EINVAL with a message, the reader left as it was. */
int mpimap_reader_rewind(mpimap_reader *r);

/* Close and free. NULL is fine. */
void mpimap_reader_close(mpimap_reader *r);

/* ---- Writer ------------------------------------------------------------- */

typedef struct mpimap_writer mpimap_writer;

/*
 * Open path for writing records (NULL or "-" = standard output).
 *
 * For a regular file (or a name that does not exist yet) the records go
 * to a new "<path>.tmp.XXXXXX" in the same directory (created exclusively,
 * mode 0666 less the umask, or the mode of the file it replaces; a symbolic
 * link is followed and replaced at its target);
 * mpimap_writer_commit() flushes, fsyncs and renames it over path, and
 * mpimap_writer_abort() (or closing without a commit) removes it and
 * leaves path untouched. When path exists and is not a regular file (a
 * device such as /dev/null, a FIFO) it is written directly.
 *
 * Returns 0, or MPIMAP_ENOTFOUND (the directory does not exist),
 * MPIMAP_EIO (other failures), MPIMAP_EINVAL (unknown framing). As for the
 * reader, *w is set even on failure, except on MPIMAP_ENOMEM, and must be
 * closed with mpimap_writer_close(); mpimap_writer_error() gives the
 * message.
 */
int mpimap_writer_open(mpimap_writer **w, const char *path, int framing);

/* Write records to an open descriptor, which the writer never closes
 * (commit only flushes). Same return convention as mpimap_writer_open(). */
int mpimap_writer_open_fd(mpimap_writer **w, int fd, int framing);

/* Append one record with the writer's framing: LINE data + '\n', NUL
 * data + '\0', BINARY le64 length + data. Output is buffered (~1 MiB).
 * Returns 0 or a negative code (MPIMAP_EIO on a write error, with a
 * message naming the file), which sticks. */
int mpimap_writer_put(mpimap_writer *w, const void *data, size_t len);

/* Append one indexed record (see the formats at the top of this file). */
int mpimap_writer_put_indexed(mpimap_writer *w, uint64_t index,
                              const void *data, size_t len);

/* Write out the buffered records. */
int mpimap_writer_flush(mpimap_writer *w);

/* Finish: flush; for a temporary file, fsync, close and rename it into
 * place. On failure the writer stays uncommitted (close or abort it to
 * remove the temporary file). A second commit returns MPIMAP_EINVAL. */
int mpimap_writer_commit(mpimap_writer *w);

/* Give up: discard buffered records and remove the temporary file; the
 * target is left untouched. Returns 0 (also when already finished). */
int mpimap_writer_abort(mpimap_writer *w);

/* The message of the last failure, or NULL. */
const char *mpimap_writer_error(const mpimap_writer *w);

/* Abort unless committed, then free. NULL is fine. */
void mpimap_writer_close(mpimap_writer *w);

#endif /* MPIMAP_CORE_RECORDS_H */
