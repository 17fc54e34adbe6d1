#include "CHeap.h"

// Any C library header defines __GLIBC__ where the library is glibc (stddef.h comes from the compiler).
#include <stdlib.h>

#if defined(__GLIBC__)
#include <malloc.h>

size_t swallow_heap_free_bytes(void) {
    return mallinfo2().fordblks;
}

int swallow_heap_trim(void) {
    return malloc_trim(0);
}
#else
size_t swallow_heap_free_bytes(void) {
    return 0;
}

int swallow_heap_trim(void) {
    return 0;
}
#endif
