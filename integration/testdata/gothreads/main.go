// Command gothreads exercises the Go runtime inside moat: goroutines over
// several threads, channels, a timer, and a signal handled by os/signal.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	var wg sync.WaitGroup
	results := make(chan int, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := 0
			for j := 0; j < 200000; j++ {
				s += j % (i + 1)
			}
			results <- s
		}(i)
	}
	wg.Wait()
	close(results)
	total := 0
	for s := range results {
		total += s
	}
	fmt.Println("total", total)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	select {
	case s := <-sigs:
		fmt.Println("signal", s)
	case <-time.After(5 * time.Second):
		fmt.Println("no signal")
	}
	<-time.After(20 * time.Millisecond)
	fmt.Println("timer fired")
}
