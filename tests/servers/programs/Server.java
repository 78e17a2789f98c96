// A JSSE server requiring client certificates (tests/servers/runtimes.py runs it).
import java.io.*;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.*;
import javax.net.ssl.*;

public class Server {
    static byte[] der(String pem, String kind) {
        String body = pem.substring(pem.indexOf("-----BEGIN " + kind + "-----") + kind.length() + 16,
                                    pem.indexOf("-----END " + kind + "-----"));
        return Base64.getMimeDecoder().decode(body);
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        Collection<? extends java.security.cert.Certificate> chain;
        try (InputStream in = new FileInputStream(args[1])) { chain = cf.generateCertificates(in); }
        String keyPem = new String(Files.readAllBytes(Paths.get(args[2])), StandardCharsets.US_ASCII);
        PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(
            new PKCS8EncodedKeySpec(der(keyPem, "PRIVATE KEY")));
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("server", key, new char[0], chain.toArray(new java.security.cert.Certificate[0]));
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        int n = 0;
        try (InputStream in = new FileInputStream(args[3])) {
            for (java.security.cert.Certificate ca : cf.generateCertificates(in)) trust.setCertificateEntry("ca" + n++, ca);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, new char[0]);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        SSLServerSocket listener = (SSLServerSocket) context.getServerSocketFactory()
            .createServerSocket(port, 50, InetAddress.getByName("127.0.0.1"));
        listener.setNeedClientAuth(true);
        System.out.println("listening");
        while (true) {
            SSLSocket socket = (SSLSocket) listener.accept();
            new Thread(() -> serve(socket)).start();
        }
    }

    static void serve(SSLSocket socket) {
        try (socket) {
            socket.setSoTimeout(10000);
            socket.startHandshake();
            String who = ((java.security.cert.X509Certificate) socket.getSession().getPeerCertificates()[0])
                .getSubjectX500Principal().getName();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            String line;
            while ((line = in.readLine()) != null && !line.isEmpty()) { }
            OutputStream out = socket.getOutputStream();
            out.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
                .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            System.out.println("served: " + who);
        } catch (Exception e) {
            Throwable root = e;
            StringBuilder why = new StringBuilder(e.toString());
            while (root.getCause() != null) { root = root.getCause(); why.append(" <- ").append(root); }
            System.out.println("refused: " + why);
        }
        System.out.flush();
    }
}
