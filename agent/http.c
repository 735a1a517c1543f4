/* SPDX-License-Identifier: MIT */
/* placeholder: filled by its issue */
#include "util.h"
