#ifdef __linux__
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#endif
#include <errno.h>

#include "CFileSupport.h"

int swallow_start_writeback(int fd) {
#ifdef __linux__
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    return 0;
#endif
}

int swallow_syncfs(int fd) {
#ifdef __linux__
    return syncfs(fd);
#else
    (void)fd;
    errno = ENOSYS;
    return -1;
#endif
}
