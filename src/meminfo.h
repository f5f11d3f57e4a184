/* meminfo.h: the memory a plan may count on.
 *
 * RANKSCOPE_MEMORY when set (a size: "8GiB"; for a shared machine, or a test), else what the
 * kernel says is available now (MemAvailable: free memory plus what it can reclaim) within what
 * this process's memory cgroup still allows (cgroup v2 memory.max - memory.current, or v1
 * memory.limit_in_bytes - memory.usage_in_bytes), which is the real bound in a container or a
 * batch scheduler's job. */
#ifndef RS_MEMINFO_H
#define RS_MEMINFO_H

#include <stdint.h>

/* The memory the plans may use; *physical (if not NULL): the machine's memory (MemTotal). */
uint64_t rs_mem_available(uint64_t *physical);

#endif
