/*
 * main.c - smime-tool: sign and/or encrypt one message with the core library.
 */
#include "config.h"

#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "smime-tool: not built yet\n");
	return 1;
}
