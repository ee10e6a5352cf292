// etcdbench: the etcd side of bench/run --replicated. Lock workloads against an etcd 3.4
// cluster with the official Go client (clientv3 and its concurrency package, as Debian's
// golang-etcd-server-dev packages them; built in GOPATH mode by bench/replicated.py).
//
//	etcdbench cycle   --endpoints E --clients N --duration S --mode lease|session
//	etcdbench contend --endpoints E --clients N --keys K --hold-us U --duration S
//
// cycle, mode lease: what a TTL lock costs on etcd: per cycle grant a lease (the TTL), take the
// lock with it (concurrency.Mutex over a session on that lease), unlock, revoke the lease.
// cycle, mode session: one session (lease) per client kept alive, per cycle Mutex Lock + Unlock:
// etcd's cheapest lock cycle (no per-lock TTL).
// contend: clients share K keys (one session each), hold the lock hold-us, release; the
// handoff latency is from the holder's unlock request to the next holder's grant.
//
// Prints one JSON line, in the shape of semlock-loadgen's.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/clientv3/concurrency"
)

type samples []time.Duration

func (s samples) quantileUs(q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q * float64(len(s)-1))
	return float64(s[i].Nanoseconds()) / 1000
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "etcdbench: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: etcdbench cycle|contend [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	endpoints := fs.String("endpoints", "127.0.0.1:2379", "comma-separated client URLs")
	clients := fs.Int("clients", 16, "concurrent clients")
	keys := fs.Int("keys", 4, "contended keys")
	holdUs := fs.Int("hold-us", 1000, "time a lock is held (contend)")
	duration := fs.Float64("duration", 3, "seconds")
	mode := fs.String("mode", "lease", "cycle: lease (per-cycle lease) or session")
	ttl := fs.Int("ttl", 30, "lease TTL in seconds (etcd leases are whole seconds)")
	conns := fs.Int("conns", 4, "gRPC connections shared by the clients")
	_ = fs.Parse(os.Args[2:])

	var cls []*clientv3.Client
	for i := 0; i < *conns; i++ {
		c, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*endpoints, ","),
			DialTimeout: 5 * time.Second})
		if err != nil {
			fail("connect: %v", err)
		}
		defer c.Close()
		cls = append(cls, c)
	}
	ctx := context.Background()
	end := time.Now().Add(time.Duration(*duration * float64(time.Second)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acq, rel, handoff, wait samples
	var cycles, failures int64
	out := map[string]interface{}{"workload": os.Args[1], "side": "etcd", "clients": *clients}
	start := time.Now()

	switch os.Args[1] {
	case "cycle":
		out["mode"] = *mode
		for c := 0; c < *clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				cli := cls[c%len(cls)]
				var a, r samples
				var sess *concurrency.Session
				var err error
				if *mode == "session" {
					if sess, err = concurrency.NewSession(cli, concurrency.WithTTL(*ttl)); err != nil {
						fail("session: %v", err)
					}
					defer sess.Close()
				}
				for i := 0; time.Now().Before(end); i++ {
					key := fmt.Sprintf("/cycle/%d/%d", c, i%1000)
					t0 := time.Now()
					s := sess
					if *mode == "lease" {
						lease, err := cli.Grant(ctx, int64(*ttl))
						if err != nil {
							atomic.AddInt64(&failures, 1)
							continue
						}
						// The session on this lease: no keep-alive needed for one cycle.
						s, err = concurrency.NewSession(cli, concurrency.WithLease(lease.ID))
						if err != nil {
							atomic.AddInt64(&failures, 1)
							continue
						}
					}
					m := concurrency.NewMutex(s, key)
					if err := m.Lock(ctx); err != nil {
						atomic.AddInt64(&failures, 1)
						continue
					}
					t1 := time.Now()
					err := m.Unlock(ctx)
					if *mode == "lease" {
						_, err2 := cli.Revoke(ctx, s.Lease())
						s.Orphan()
						if err == nil {
							err = err2
						}
					}
					t2 := time.Now()
					if err != nil {
						atomic.AddInt64(&failures, 1)
						continue
					}
					a = append(a, t1.Sub(t0))
					r = append(r, t2.Sub(t1))
					atomic.AddInt64(&cycles, 1)
				}
				mu.Lock()
				acq = append(acq, a...)
				rel = append(rel, r...)
				mu.Unlock()
			}(c)
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		out["seconds"] = secs
		out["cycles"] = cycles
		out["failures"] = failures
		out["cycles_per_s"] = float64(cycles) / secs
		out["acquire_p50_us"] = acq.quantileUs(0.5)
		out["acquire_p99_us"] = acq.quantileUs(0.99)
		out["release_p50_us"] = rel.quantileUs(0.5)
		out["release_p99_us"] = rel.quantileUs(0.99)
	case "contend":
		lastRelease := make([]int64, *keys)
		var grants int64
		for c := 0; c < *clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				cli := cls[c%len(cls)]
				sess, err := concurrency.NewSession(cli, concurrency.WithTTL(*ttl))
				if err != nil {
					fail("session: %v", err)
				}
				defer sess.Close()
				k := c % *keys
				m := concurrency.NewMutex(sess, fmt.Sprintf("/contend/%d", k))
				var h, w samples
				for time.Now().Before(end) {
					tSent := time.Now()
					lctx, cancel := context.WithDeadline(ctx, end.Add(10*time.Second))
					err := m.Lock(lctx)
					cancel()
					tGrant := time.Now()
					if err != nil {
						atomic.AddInt64(&failures, 1)
						break
					}
					w = append(w, tGrant.Sub(tSent))
					if rl := atomic.LoadInt64(&lastRelease[k]); rl > tSent.UnixNano() {
						h = append(h, time.Duration(tGrant.UnixNano()-rl))
					}
					if tGrant.Before(end) {
						atomic.AddInt64(&grants, 1)
					}
					time.Sleep(time.Duration(*holdUs) * time.Microsecond)
					atomic.StoreInt64(&lastRelease[k], time.Now().UnixNano())
					if err := m.Unlock(ctx); err != nil {
						atomic.AddInt64(&failures, 1)
						break
					}
				}
				mu.Lock()
				handoff = append(handoff, h...)
				wait = append(wait, w...)
				mu.Unlock()
			}(c)
		}
		wg.Wait()
		out["keys"] = *keys
		out["hold_us"] = *holdUs
		out["grants"] = grants
		out["grants_per_s"] = float64(grants) / *duration
		out["failures"] = failures
		out["handoffs"] = len(handoff)
		out["handoff_p50_us"] = handoff.quantileUs(0.5)
		out["handoff_p99_us"] = handoff.quantileUs(0.99)
		out["wait_p50_us"] = wait.quantileUs(0.5)
		out["wait_p99_us"] = wait.quantileUs(0.99)
	default:
		fail("unknown workload %q", os.Args[1])
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
