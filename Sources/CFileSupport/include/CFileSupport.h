#ifndef SWALLOW_CFILESUPPORT_H
#define SWALLOW_CFILESUPPORT_H

// File calls that Swift's Glibc module does not export (they need _GNU_SOURCE, which only the .c file can set
// before the system headers are read).

/// Starts writing the file's dirty pages without waiting (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that
/// the fsyncs that follow for many files find their data already on its way. Returns 0, or -1 with errno set;
/// a no-op elsewhere.
int swallow_start_writeback(int fd);

/// Linux `syncfs`: writes every dirty file and directory of the file system holding `fd` and waits for them.
/// Returns 0, or -1 with errno set (ENOSYS elsewhere).
int swallow_syncfs(int fd);

#include <stddef.h>
#include <stdint.h>

/// The type (`f_type`, a magic number such as 0xEF53 for ext2/3/4) of the file system holding `path`, from
/// `statfs(2)`, which Swift's Glibc module does not export. Returns 0, or -1 with errno set.
int swallow_statfs_type(const char *path, uint64_t *type);

/// CRC-32C (Castagnoli), as iSCSI and ext4 use it: `crc` is 0 for a fresh checksum, or an earlier result to go on.
uint32_t swallow_crc32c(uint32_t crc, const void *bytes, size_t count);

/// The same without special instructions (what `swallow_crc32c` uses where SSE 4.2 is missing); for tests.
uint32_t swallow_crc32c_portable(uint32_t crc, const void *bytes, size_t count);

#endif
