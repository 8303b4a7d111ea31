/* The keeper's user namespace: unshared by the keeper, mapped by Node. */
#pragma once
#include "protocol.h"

/* Mapping kinds Node reports in MAPPED (T_TYPE). */
enum { MAP_IDENTITY = 1, MAP_SUBID = 2, MAP_SINGLE = 3 };

/* Unshares the user namespace, lets Node map it, becomes root in it. Returns the map kind. */
int userns_enter(sw_reader *in);
