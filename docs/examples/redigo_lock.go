// A mutex on TtlSemLock from Go with redigo (Debian golang-github-gomodule-redigo-dev), the
// usual Redis recipe: SET key token NX PX to take it, a compare-and-delete script to release.
// Four goroutines, each on its own connection, take turns; the counter proves they never overlap.
// Build (GOPATH mode): GO111MODULE=off GOPATH=/usr/share/gocode go build redigo_lock.go
// Run: ./redigo_lock 127.0.0.1:6379
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
)

var release = redis.NewScript(1, `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`)

func token() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// lock retries SET NX PX until it holds the key or the wait runs out.
func lock(c redis.Conn, key string, ttl, wait time.Duration) (string, error) {
	tok := token()
	deadline := time.Now().Add(wait)
	for {
		_, err := redis.String(c.Do("SET", key, tok, "NX", "PX", ttl.Milliseconds()))
		if err == nil {
			return tok, nil
		}
		if err != redis.ErrNil {
			return "", err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("timed out waiting for %s", key)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func main() {
	addr := "127.0.0.1:6379"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	var inside, turns int32
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := redis.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := 0; i < 10; i++ {
				tok, err := lock(c, "example:go", 10*time.Second, 30*time.Second)
				if err != nil {
					errs <- err
					return
				}
				if n := atomic.AddInt32(&inside, 1); n != 1 {
					errs <- fmt.Errorf("%d holders at once", n)
				}
				time.Sleep(2 * time.Millisecond)
				atomic.AddInt32(&inside, -1)
				atomic.AddInt32(&turns, 1)
				if n, err := redis.Int(release.Do(c, "example:go", tok)); err != nil || n != 1 {
					errs <- fmt.Errorf("release: %v %v", n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Printf("ok: %d turns, never two holders at once\n", turns)
}
