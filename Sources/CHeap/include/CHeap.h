#ifndef SWALLOW_CHEAP_H
#define SWALLOW_CHEAP_H

#include <stddef.h>

/// Bytes the C heap holds free (glibc: `mallinfo2().fordblks`), or 0 where this cannot be known.
size_t swallow_heap_free_bytes(void);

/// Gives free heap pages back to the system (glibc: `malloc_trim(0)`). Returns 1 if memory was released.
int swallow_heap_trim(void);

#endif
