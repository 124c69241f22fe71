"""A reasoning cut by max_tokens comes back through the HTTP client as it was generated: unclosed, truncated."""

from hermes4.chat.messages import Conversation
from hermes4.llm import Sampling, ScriptedEngine
from hermes4.llm.client import OpenAIClient
from hermes4.llm.server import start_server


def long_thinker(request):
    return "<think>\n" + " ".join(f"step{i}" for i in range(200)) + "\n</think>\nAnswer: 4"


async def test_reasoning_cut_by_the_budget_is_not_closed_by_the_client():
    server = start_server(ScriptedEngine(long_thinker, name="thinker"), model_name="thinker")
    client = OpenAIClient(server.base_url)
    try:
        ask = Conversation.parse({"messages": [{"role": "user", "content": "2+2?"}]})
        [cut] = await client.chat(ask, sampling=Sampling(max_tokens=20), thinking=True)
        [whole] = await client.chat(ask, sampling=Sampling(max_tokens=1000), thinking=True)
    finally:
        await client.aclose()
        server.close()
    assert cut.finish_reason == "length" and cut.parsed.truncated and cut.content == ""
    assert cut.text.startswith("<think>\nstep0") and "</think>" not in cut.text
    assert whole.finish_reason == "stop" and not whole.parsed.truncated
    assert whole.content == "Answer: 4" and whole.text.endswith("</think>\nAnswer: 4")
