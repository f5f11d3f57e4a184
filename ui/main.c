/* main.c: placeholder entry until the command layer lands. */
#include "config.h"

int main(void);

int
main(void)
{
	return 0;
}
