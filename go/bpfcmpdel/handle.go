// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel

import (
	"fmt"
	"unsafe"

	"github.com/cilium/ebpf"
)

// Handle names a hash map to the module's kfuncs that take one
// (bpfcmpdel_handle_delete(), bpfcmpdel_handle_update() and
// bpfcmpdel_handle_sweep() in bpfcmpdel/kfuncs.bpf.h): the way a BPF
// program names a map to the module on every kernel, and the only way on
// Linux 6.1, whose verifier passes no map to a module's kfunc.  Hand it to
// the program as data (a global variable, a map entry) before the program
// runs; a handle that names no map makes the kfuncs return -EBADF.
//
// A Handle holds its map until [Handle.Close] or the process's exit,
// whichever comes first (it lives on the package's device file).  Any
// program allowed to call the kfuncs may use any live handle: what
// BPFCMPDEL_IOC_HANDLE_NEW in uapi/bpfcmpdel/ioctl.h says.
type Handle uint32

// NewHandle makes a handle for m, which is checked as for a request: a
// hash map the module serves ([ErrNotSupported] otherwise), open for
// reading and writing, not frozen, and not BPF_F_RDONLY_PROG.  At most
// [HandlesMax] handles are live at once on the machine (unix.ENOSPC).
func NewHandle(m *ebpf.Map) (Handle, error) {
	r := handleReq{Size: uint32(unsafe.Sizeof(handleReq{})), MapFD: uint32(m.FD())}

	if err := ioctl("handle", iocHandleNew, unsafe.Pointer(&r), m); err != nil {
		return 0, err
	}
	return Handle(r.Handle), nil
}

// Close frees the handle: it names no map from then on, and its map's
// reference is dropped once no program can still be using it.
// [ErrNotExist] if it is not a live handle of this process.
func (h Handle) Close() error {
	r := handleReq{Size: uint32(unsafe.Sizeof(handleReq{})), Handle: uint32(h)}

	return ioctl("handle close", iocHandleFree, unsafe.Pointer(&r))
}

// String formats the handle as the module's kfuncs see it.
func (h Handle) String() string {
	return fmt.Sprintf("bpfcmpdel handle %#x", uint32(h))
}
