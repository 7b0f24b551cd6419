"""Renders gemma.v1.ChatInput conversations (protobuf JSON) with a chat template through Jinja2,
the way Hugging Face transformers' apply_chat_template does (sandboxed environment with
trim_blocks, lstrip_blocks and loop controls; continue_final_message cuts the text after the
final message's content).

    python3 jinja_reference.py TEMPLATE.jinja CONVERSATIONS.json OUT.json

OUT.json: one {"text": ...} or {"error": ...} per conversation. The conversion below is the
documented mapping of preprocess/chat_template.h, written independently of the C++.
"""
import json
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment


def to_hf(chat):
    messages = []
    for message in chat.get("messages", []):
        role = message.get("role")
        parts = message.get("parts", [])
        text = "".join(p["text"] for p in parts if "text" in p)
        if role == "ROLE_SYSTEM":
            messages.append({"role": "system", "content": text})
        elif role == "ROLE_USER":
            content = []
            for p in parts:
                if "text" in p:
                    content.append({"type": "text", "text": p["text"]})
                elif "image" in p:
                    content.append({"type": "image"})
                elif "audio" in p:
                    content.append({"type": "audio"})
            messages.append({"role": "user", "content": content})
        elif role == "ROLE_MODEL":
            hf = {"role": "assistant", "content": text}
            calls = []
            for call in message.get("toolCalls", []):
                entry = {"type": "function", "function": {
                    "name": call["name"], "arguments": json.loads(call.get("argumentsJson") or "{}")}}
                if call.get("id"):
                    entry["id"] = call["id"]
                calls.append(entry)
            if calls:
                hf["tool_calls"] = calls
            messages.append(hf)
        elif role == "ROLE_TOOL":
            # Gemma's native form: the responses ride on the model message that made the calls.
            owner = messages[-1]
            calls = owner.get("tool_calls", [])
            for response in message.get("toolResponses", []):
                name = response.get("name") or "unknown"
                for call in calls:
                    if call.get("id") == (response.get("toolCallId") or None):
                        name = call["function"]["name"]
                owner.setdefault("tool_responses", []).append(
                    {"name": name, "response": json.loads(response["contentJson"])})
    tools = []
    for tool in chat.get("tools", []):
        function = {"name": tool["name"], "description": tool.get("description", "")}
        if tool.get("parametersJsonSchema"):
            function["parameters"] = json.loads(tool["parametersJsonSchema"])
        tools.append({"type": "function", "function": function})
    return messages, tools


def render(template, chat):
    messages, tools = to_hf(chat)
    continue_final = chat.get("continueFinalMessage", False)
    kwargs = {"messages": messages, "bos_token": "<bos>", "eos_token": "<eos>",
              "add_generation_prompt": not continue_final}
    if tools:
        kwargs["tools"] = tools
    if chat.get("enableThinking"):
        kwargs["enable_thinking"] = True
    text = template.render(**kwargs)
    if continue_final:
        final = messages[-1]["content"]
        if isinstance(final, list):
            final = [block["text"] for block in final if "text" in block][-1]
        final = final.strip()
        text = text[: text.rindex(final) + len(final)]
    return text


def main():
    template_path, conversations_path, out_path = sys.argv[1:]

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    with open(template_path, encoding="utf-8") as f:
        template = env.from_string(f.read())
    with open(conversations_path, encoding="utf-8") as f:
        conversations = json.load(f)
    results = []
    for chat in conversations:
        try:
            results.append({"text": render(template, chat)})
        except Exception as error:  # The template refused the conversation.
            results.append({"error": str(error)})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
