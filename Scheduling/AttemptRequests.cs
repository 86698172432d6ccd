using System.Globalization;
using System.Text;
using Ksana.Wire;

namespace Ksana.Scheduling;

/// <summary>
/// Composes what one attempt sends (SPEC §5): the job's method, URL, headers and body with its
/// placeholders filled, and Ksana's own headers: when signing is on, the Standard Webhooks headers
/// (SPEC §8) over exactly the body bytes sent, stamped with <paramref name="timestamp"/>.
/// </summary>
public static class AttemptRequests
{
    public static AttemptRequest For(RunInFlight run, int attempt, string userAgent, long timestamp = 0, SignDelivery? sign = null)
    {
        var http = run.Job.Spec.Http;
        var number = attempt.ToString(CultureInfo.InvariantCulture);
        var body = http.Body.Length == 0 ? null : Encoding.UTF8.GetBytes(Fill(http.Body, run, number));
        // The run id is the webhook id: the same on every attempt, so callees can use it to deduplicate.
        var signature = sign?.Invoke(run.RunId, timestamp, body);
        // Made at its exact size rather than grown in a list: a callback's headers are a fixed few.
        var own = http.Headers;
        var kept = own.Count;
        if (signature is not null)
            for (var i = 0; i < own.Count; i++)
                if (WebhookHeaders.IsOwn(own[i].Key)) kept--;
        var headers = new KeyValuePair<string, string>[4 + (signature is null ? 0 : WebhookHeaders.Count) + kept];
        headers[0] = new("User-Agent", userAgent);
        headers[1] = new("X-Ksana-Run-Id", run.RunId);
        headers[2] = new("X-Ksana-Job-Id", run.Job.Id.ToString());
        headers[3] = new("X-Ksana-Attempt", number);
        var at = 4;
        if (signature is not null) at += WebhookHeaders.Write(headers.AsSpan(at), run.RunId, timestamp, signature);
        // By index: a foreach over the interface would box an enumerator per attempt.
        for (var i = 0; i < own.Count; i++)
            if (signature is null || !WebhookHeaders.IsOwn(own[i].Key))
                headers[at++] = own[i];
        return new AttemptRequest(http.Method, http.Url, headers, body, run.Job.Spec.Timeout.ToTimeSpan()) { Address = run.Job.Address };
    }

    /// <summary>Replaces the placeholders of SPEC §2; any other text is sent unchanged.</summary>
    public static string Fill(string body, RunInFlight run, string attempt) =>
        !body.Contains("{{", StringComparison.Ordinal) ? body
        : body
            .Replace("{{job_id}}", run.Job.Id.ToString(), StringComparison.Ordinal)
            .Replace("{{run_id}}", run.RunId, StringComparison.Ordinal)
            .Replace("{{scheduled_at}}", Rfc3339.Format(run.ScheduledAt), StringComparison.Ordinal)
            .Replace("{{triggered_at}}", Rfc3339.Format(run.TriggeredAt), StringComparison.Ordinal)
            .Replace("{{attempt}}", attempt, StringComparison.Ordinal);
}
