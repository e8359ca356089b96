// The one JSON codec of stored attributes, used by JSON Lines import and
// export (jsonl.h) and by the HTTP API's entity and workflow endpoints.
//
// A JSON object of attributes maps names to values: null, booleans,
// integers (int64), numbers, strings, and lists of those (lists may nest;
// objects inside lists are refused). Nested objects flatten to dotted keys
// ({"device":{"ip":"…"}} is "device.ip"). Refused: an integer beyond int64,
// an empty name, a name longer than 255 bytes or holding NUL, a flattened
// name given twice ({"a.b":1,"a":{"b":2}}), more than 65535 attributes.
// Errors are INVALID_ARGUMENT; message and field name the attribute
// ("attributes.device.ip: integer out of range").
//
// Invariant: ParseAttributesJson(WriteAttributesJson(a)) == a for every map
// the parser produced (timestamps are written as RFC 3339 strings and read
// back as strings: attribute JSON has no timestamp type).
//
// Thread safety: plain functions.
#ifndef PORTCULLIS_STORAGE_ATTRIBUTES_JSON_H_
#define PORTCULLIS_STORAGE_ATTRIBUTES_JSON_H_

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

#include "common/status.h"
#include "storage/store.h"

namespace portcullis::storage {

// Parses the object `obj` into *out (added to what is there). `field` names
// the object in errors ("attributes").
Status ParseAttributesJson(const rapidjson::Value& obj, std::string_view field,
                           Attributes* out);

// Writes {"name": value, ...} in key order.
void WriteAttributesJson(rapidjson::Writer<rapidjson::StringBuffer>& w,
                         const Attributes& attributes);

// Writes one value.
void WriteAttributeValueJson(rapidjson::Writer<rapidjson::StringBuffer>& w,
                             const engine::OwnedValue& value);

}  // namespace portcullis::storage

#endif  // PORTCULLIS_STORAGE_ATTRIBUTES_JSON_H_
