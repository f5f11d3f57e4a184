/* meminfo.c: the memory a plan may count on (see meminfo.h). */
#include "config.h"

#include "meminfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "size.h"

/* A number from the first line of a file, or 0. */
static uint64_t
read_u64(const char *path)
{
	unsigned long long v = 0;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%llu", &v) != 1)
		v = 0;
	fclose(fp);
	return (uint64_t)v;
}

/* What this process's memory cgroup still allows (limit - usage), or 0 without a limit:
 * cgroup v2 (memory.max) or v1 (memory.limit_in_bytes), the process's own group as
 * /proc/self/cgroup names it, else the hierarchy's root seen from inside a namespace. */
static uint64_t
cgroup_room(void)
{
	char line[512], path[640], grp[512] = "";
	uint64_t lim = 0, use = 0;
	int v2 = 0;
	FILE *fp = fopen("/proc/self/cgroup", "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof line, fp) != NULL) {
		char *nl = strchr(line, '\n'), *p;
		if (nl != NULL)
			*nl = '\0';
		if (strncmp(line, "0::", 3) == 0 && grp[0] == '\0') {
			snprintf(grp, sizeof grp, "%s", line + 3);
			v2 = 1;
		} else if ((p = strstr(line, ":memory:")) != NULL) {
			snprintf(grp, sizeof grp, "%s", p + 8);
			v2 = 0;
		}
	}
	fclose(fp);
	if (v2) {
		snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", grp);
		if ((lim = read_u64(path)) != 0) {
			snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.current", grp);
			use = read_u64(path);
		}
	} else if (grp[0] != '\0') {
		snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", grp);
		if ((lim = read_u64(path)) == 0)
			lim = read_u64("/sys/fs/cgroup/memory/memory.limit_in_bytes");
		else {
			snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", grp);
			use = read_u64(path);
		}
	}
	/* "max" reads as 0; v1's "no limit" is a page-rounded 2^63 */
	if (lim == 0 || lim >= (1ull << 62))
		return 0;
	return lim > use ? lim - use : 1;
}

/* Available memory: RANKSCOPE_MEMORY when set, else MemAvailable (/proc/meminfo, else
 * sysconf) within what the memory cgroup allows; *physical: MemTotal. */
uint64_t
rs_mem_available(uint64_t *physical)
{
	unsigned long long kb;
	uint64_t avail = 0, total = 0, room, want;
	char line[128];
	const char *env = getenv("RANKSCOPE_MEMORY");
	FILE *fp = fopen("/proc/meminfo", "r");
	long pages, psize = sysconf(_SC_PAGESIZE);

	if (fp != NULL) {
		while (fgets(line, sizeof line, fp) != NULL) {
			if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
				avail = (uint64_t)kb * 1024;
			else if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
				total = (uint64_t)kb * 1024;
		}
		fclose(fp);
	}
	if (total == 0 && (pages = sysconf(_SC_PHYS_PAGES)) > 0 && psize > 0)
		total = (uint64_t)pages * (uint64_t)psize;
#ifdef _SC_AVPHYS_PAGES
	if (avail == 0 && (pages = sysconf(_SC_AVPHYS_PAGES)) > 0 && psize > 0)
		avail = (uint64_t)pages * (uint64_t)psize;
#endif
	if (avail == 0)
		avail = total;
	if ((room = cgroup_room()) != 0 && room < avail)
		avail = room;
	if (physical != NULL)
		*physical = total;
	if (env != NULL && env[0] != '\0' && rs_parse_size(env, RS_SIZE_BYTES, &want) == 0)
		return want;
	return avail;
}
