// Differential oracle for packages/protocol's Go-semantics decoder. Reads lines "<kind> <base64 body>" from
// stdin (kind: push or ack), decodes each body with encoding/json exactly as the push proxy does
// (json.NewDecoder(r).Decode(&v)), and writes one JSON line per input: {"error": err.Error()} or
// {"value": <the decoded struct, every field, omitempty ignored>}. Test oracle only.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"

	"hpns.test/gooracle/model"
)

// fields renders every field of a struct by its JSON name, so zero values are visible to the comparison.
func fields(v interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		name := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
		out[name] = rv.Field(i).Interface()
	}
	return out
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		parts := strings.SplitN(in.Text(), " ", 2)
		body, err := base64.StdEncoding.DecodeString(parts[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad input line:", err)
			os.Exit(2)
		}
		var target interface{}
		if parts[0] == "ack" {
			target = &model.PushNotificationAck{}
		} else {
			target = &model.PushNotification{}
		}
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(target); err != nil {
			_ = enc.Encode(map[string]string{"error": err.Error()})
			continue
		}
		_ = enc.Encode(map[string]interface{}{"value": fields(target)})
	}
}
