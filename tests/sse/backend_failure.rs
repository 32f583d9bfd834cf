use super::*;

// ------------------------------------------------------------------------------------------------
// 9. A backend that dies mid-transfer
// ------------------------------------------------------------------------------------------------

/// The backend is killed while a 50 MiB object streams to a client: the client sees an error or a short body,
/// never a complete 200, and nothing it received is wrong.
#[tokio::test(flavor = "multi_thread")]
async fn backend_killed_mid_get_cuts_the_response() {
    let (mut s, c, bucket) = stack_with_bucket("kill-get").await;
    let data = pseudo_random(50 * MIB, 71);
    put_object(&s.gw, &c, &bucket, "big", data.clone()).await.assert_ok();

    let req = signed(&s.gw, CLIENT, Method::GET, &format!("/{bucket}/big"), Bytes::new());
    let (parts, body) = req.into_parts();
    let resp = c
        .request(Request::from_parts(parts, http_body_util::Full::new(body)))
        .await
        .expect("response head");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut got = Vec::new();
    let mut error = None;
    let mut killed = false;
    loop {
        if !killed && got.len() >= 2 * MIB {
            s.backend.kill();
            killed = true;
        }
        match body.frame().await {
            None => break,
            Some(Ok(f)) => {
                if let Ok(d) = f.into_data() {
                    got.extend_from_slice(&d);
                }
            }
            Some(Err(e)) => {
                error = Some(format!("{e:?}"));
                break;
            }
        }
    }
    assert!(killed, "the body ended before 2 MiB ({} bytes)", got.len());
    assert!(
        error.is_some() && got.len() < data.len(),
        "a complete 200 of {} bytes (error {error:?}) although the backend died mid-stream",
        got.len()
    );
    assert!(
        data.starts_with(&got),
        "the bytes received before the cut are the object's"
    );

    // Back up on the same files: the object reads whole again.
    s.backend.restart();
    assert_body(&get_object(&s.gw, &c, &bucket, "big").await, &data, "after restart");
}

type StreamedBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// The backend is killed while a 50 MiB PUT streams through the gateway: the client gets no success, and once
/// the backend is back (same files) no object exists under that key.
#[tokio::test(flavor = "multi_thread")]
async fn backend_killed_mid_put_leaves_no_object() {
    let (mut s, c, bucket) = stack_with_bucket("kill-put").await;
    let total = 50 * MIB;
    let chunk = MIB;
    let data = Bytes::from(pseudo_random(total, 81));

    let client = https_client_with_body::<StreamedBody>(tls_config(&[s.gw.ca_file()], TlsVersions::Both));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    let body: StreamedBody = StreamBody::new(stream).boxed();
    let mut head = Request::builder()
        .method(Method::PUT)
        .uri(s.gw.url(&format!("/{bucket}/partial")))
        .header("content-length", total)
        .body(())
        .unwrap();
    sign_request(&mut head, CLIENT, SystemTime::now(), SignableBody::UnsignedPayload);
    let (parts, ()) = head.into_parts();
    let req = Request::from_parts(parts, body);
    let pending = tokio::spawn(async move {
        match client.request(req).await {
            Ok(resp) => Ok(LossyResp::read(resp).await),
            Err(e) => Err(format!("{e:?}")),
        }
    });

    // Feed 10 MiB, wait until the backend is writing it, kill the backend, feed the rest (as far as it goes).
    let mut sent = 0;
    while sent < 10 * MIB {
        tx.send(data.slice(sent..sent + chunk))
            .await
            .expect("gateway reads the body");
        sent += chunk;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let writing = all_files(&s.backend.root).into_iter().any(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| (n.starts_with(".tmp.") || n.starts_with(".embedded-put.")) && n.ends_with(".part"))
                && file_len(&p) >= MIB as u64
        });
        if writing {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backend never started writing the object"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.backend.kill();
    while sent < total {
        let send = tx.send(data.slice(sent..sent + chunk));
        match tokio::time::timeout(Duration::from_secs(10), send).await {
            Ok(Ok(())) => sent += chunk,
            _ => break,
        }
    }
    drop(tx);
    let outcome = tokio::time::timeout(Duration::from_secs(60), pending)
        .await
        .expect("the PUT finished")
        .expect("task");
    // A closed connection (Err) is no success either.
    if let Ok(r) = &outcome {
        assert!(
            !r.status.is_success(),
            "PUT answered {} although the backend died mid-upload: {}",
            r.status,
            r.text()
        );
    }

    s.backend.restart();
    s.backend.assert_absent(&bucket, "partial").await;
    let r = get_object(&s.gw, &c, &bucket, "partial").await;
    r.assert_error(404, "NoSuchKey");
    let h = head_with(&s.gw, &c, &format!("/{bucket}/partial"), &[]).await;
    assert_eq!(h.status, StatusCode::NOT_FOUND);
    let l = get_with(&s.gw, &c, &format!("/{bucket}?list-type=2"), &[]).await;
    assert!(
        listed(&l.text()).is_empty(),
        "listing after the failed PUT: {}",
        l.text()
    );
    // The gateway works again.
    put_object(&s.gw, &c, &bucket, "partial", data.slice(..1000))
        .await
        .assert_ok();
    assert_body(
        &get_object(&s.gw, &c, &bucket, "partial").await,
        &data[..1000],
        "PUT after restart",
    );
}

/// Concurrent overwrites of one key: S3 keeps one of the bodies whole (the last writer's). The embedded backend
/// (s3s-fs) renames the data into place and then writes the metadata (the envelope) as a second file, so two
/// interleaved PUTs left one writer's ciphertext under the other's data key: every later GET failed
/// authentication, and the object was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overwrites_of_one_key_leave_one_whole_object() {
    let (s, c, bucket) = stack_with_bucket("overwrite").await;
    let bodies: Vec<Bytes> = (0..24u8)
        .map(|i| Bytes::from(pseudo_random(3 * 65536 + 100 * i as usize, 40 + i as u64)))
        .collect();
    for round in 0..3 {
        let puts = bodies.iter().map(|b| {
            let (gw, c, bucket, b) = (&s.gw, c.clone(), bucket.clone(), b.clone());
            async move { put_object(gw, &c, &bucket, "hot", b).await }
        });
        for r in futures_util::future::join_all(puts).await {
            r.assert_ok();
        }
        let got = call_lossy(&s.gw, &c, Method::GET, &format!("/{bucket}/hot"), &[]).await;
        assert_eq!(got.status, StatusCode::OK, "round {round}: GET after overwrites");
        assert_eq!(got.body_error, None, "round {round}: GET after overwrites cut");
        assert!(
            bodies.contains(&got.body),
            "round {round}: GET returned {} bytes that are none of the bodies written",
            got.body.len()
        );
    }
}
