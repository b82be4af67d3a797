/*
 * store_migrations — the SQL files of gateway/sql/, compiled in by
 * cmake/embed_sql.cmake; store.c applies them in order.
 */
#ifndef PW_STORE_MIGRATIONS_H
#define PW_STORE_MIGRATIONS_H

#include <stddef.h>

struct store_migration {
	int version;      /* NNN of NNN_name.sql, 1, 2, 3 ... without gaps */
	const char *name; /* file name, for messages */
	const char *sql;
};

extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

#endif
