// An HTTPS server requiring client certificates (tests/servers/runtimes.py builds it).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	port, cert, key, ca := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	pem, err := os.ReadFile(ca)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatal("no CA certificate in ", ca)
	}
	server := &http.Server{
		Addr: "127.0.0.1:" + port,
		TLSConfig: &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			log.Print("served: ", r.TLS.PeerCertificates[0].Subject.CommonName)
			fmt.Fprintln(w, "ok")
		}),
	}
	log.Fatal(server.ListenAndServeTLS(cert, key))
}
