/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>

#include <json-c/json.h>

#include "jsonout.h"

int jsonout__add(struct json_object *obj, const char *key, struct json_object *value)
{
	const unsigned int opts = JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT;

	if (!value)
		return -ENOMEM;
	if (json_object_object_add_ex(obj, key, value, opts)) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

int jsonout__append(struct json_object *array, struct json_object *value)
{
	if (!value)
		return -ENOMEM;
	if (json_object_array_add(array, value)) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}
