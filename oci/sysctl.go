package oci

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"moat/kernel"
)

// applySysctls applies a config's linux.sysctl to the sandbox. What moat
// models is set: the network's ip_unprivileged_port_start (engines lower
// it so that a non-root process may serve port 80) and the UTS names.
// Other keys of the kinds Linux keeps per namespace (net.*, the IPC
// ones) are accepted and logged as not applied: the sandbox's network
// stack and IPC have fixed behaviour. Keys Linux keeps host-wide are
// refused, as runc refuses them.
func applySysctls(k *kernel.Kernel, m map[string]string, log *slog.Logger) error {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		v := m[key]
		switch key {
		case "net.ipv4.ip_unprivileged_port_start":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil && k.Net() != nil {
				err = k.Net().Sysctls().SetUnprivilegedPortStart(n)
			}
			if err != nil {
				return fmt.Errorf("linux.sysctl: %s=%q: %v", key, v, err)
			}
		case "kernel.hostname":
			k.SetUTSNames(v, nil)
		case "kernel.domainname":
			k.SetUTSNames("", &v)
		default:
			if !namespacedSysctl(key) {
				return fmt.Errorf("linux.sysctl: %s is not in a separate kernel namespace: it cannot be set for a container", key)
			}
			log.Info("sysctl not applied: the sandbox's setting is fixed", "key", key, "value", v)
		}
	}
	return nil
}

// namespacedSysctl reports whether Linux keeps key per namespace (network
// or IPC), which a container may set.
func namespacedSysctl(key string) bool {
	switch key {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
		"kernel.shmmni", "kernel.shm_rmid_forced":
		return true
	}
	return strings.HasPrefix(key, "net.") || strings.HasPrefix(key, "fs.mqueue.")
}
