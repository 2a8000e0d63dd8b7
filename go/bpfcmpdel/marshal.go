// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
)

// nativeEndian is the byte order of the CPU the kernel runs on: the
// module serves little-endian x86-64 alone.
var nativeEndian = binary.LittleEndian

// marshal turns @data into bytes as ebpf.Map.Lookup's callers give keys
// and values: a []byte as is, an encoding.BinaryMarshaler, or a fixed-size
// value (or slice of them) in native byte order.  @length > 0: exactly
// that many bytes; 0: any non-empty length.
func marshal(what string, data interface{}, length int) ([]byte, error) {
	var buf []byte
	var err error

	switch v := data.(type) {
	case nil:
		return nil, fmt.Errorf("%s: nil", what)
	case []byte:
		buf = v
	case encoding.BinaryMarshaler:
		buf, err = v.MarshalBinary()
	case *ebpf.Map, ebpf.Map, *ebpf.Program, ebpf.Program:
		err = fmt.Errorf("can't marshal %T", v)
	default:
		var w bytes.Buffer
		err = binary.Write(&w, nativeEndian, v)
		buf = w.Bytes()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if length > 0 && len(buf) != length {
		return nil, fmt.Errorf("%s: %T is %d bytes, want %d", what, data, len(buf), length)
	}
	if len(buf) == 0 {
		return nil, fmt.Errorf("%s: empty", what)
	}
	return buf, nil
}
