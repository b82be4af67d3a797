/* main — placeholder until ingest lands. */
#include <stdio.h>
#include "pw.h"

int main(void)
{
	printf("pitwall %s\n", PW_VERSION);
	return 0;
}
